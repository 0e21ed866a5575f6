"""tt.save / tt.load: .npz without pickle, nested checkpoints, atomic writes."""
import math
import os

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.serialization import atomic_write


def test_flat_state_dict_is_a_plain_npz(tmp_path):
    path = tmp_path / "model.npz"
    state = {"layer.weight": np.arange(6, dtype=np.float32).reshape(2, 3),
             "layer.bias": np.array([1.5, -2.5]), "ids": np.arange(4), "file": np.zeros(1)}
    tt.save(state, path)
    with np.load(path, allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted(state)
    back = tt.load(path)
    assert list(back) == list(state)
    for name, array in state.items():
        assert back[name].dtype == array.dtype and back[name].tobytes() == array.tobytes()


def test_nested_checkpoint_round_trip(tmp_path):
    path = tmp_path / "ckpt.npz"
    checkpoint = {
        "model": {"w": np.ones((2, 2), np.float32)},
        "optimizer": {"state": {"0": {"step": 3, "exp_avg": np.full(2, 0.1)}},
                      "param_groups": [{"lr": 0.1 + 0.2, "betas": (0.9, 0.999), "params": [0]}]},
        "iter_num": 1200, "best_val_loss": math.inf, "name": "tiny", "flag": True, "none": None,
        "scalar": np.float32(2.5),
    }
    tt.save(checkpoint, path)
    with np.load(path, allow_pickle=False) as archive:      # no pickle needed, ever
        assert "model/w" in archive.files and "optimizer/state/0/exp_avg" in archive.files
    back = tt.load(path)
    assert back["model"]["w"].dtype == np.float32 and back["model"]["w"].tolist() == [[1, 1], [1, 1]]
    assert back["optimizer"]["state"]["0"]["step"] == 3
    assert back["optimizer"]["state"]["0"]["exp_avg"].tolist() == [0.1, 0.1]
    group = back["optimizer"]["param_groups"][0]
    assert group["lr"] == 0.1 + 0.2                     # bit for bit: 0.30000000000000004
    assert group["betas"] == [0.9, 0.999]               # tuples come back as lists
    assert back["iter_num"] == 1200 and isinstance(back["iter_num"], int)
    assert back["best_val_loss"] == math.inf
    assert back["name"] == "tiny" and back["flag"] is True and back["none"] is None
    assert back["scalar"].dtype == np.float32 and back["scalar"].shape == ()


def test_bad_keys_and_values_are_refused(tmp_path):
    with pytest.raises(TypeError, match="keys must be strings"):
        tt.save({"a": {1: np.zeros(1)}}, tmp_path / "x.npz")
    with pytest.raises(ValueError, match="contains '/'"):
        tt.save({"a/b": np.zeros(1)}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="cannot store set at a"):
        tt.save({"a": {1, 2}}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="object array"):
        tt.save({"a": np.array([None, 1])}, tmp_path / "x.npz")
    assert not list(tmp_path.iterdir())                  # nothing half-written left behind


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    path = tmp_path / "ckpt.npz"
    tt.save({"w": np.ones(3)}, path)
    before = path.read_bytes()
    with pytest.raises(RuntimeError):
        with atomic_write(path) as file:
            file.write(b"half a checkpoint")
            raise RuntimeError("interrupted")
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_save_overwrites_and_writes_exactly_at_the_path(tmp_path):
    path = tmp_path / "weights.bin"
    tt.save({"w": np.ones(1)}, path)
    tt.save({"w": np.zeros(1)}, path)
    assert os.listdir(tmp_path) == ["weights.bin"]
    assert tt.load(path)["w"].tolist() == [0.0]


def test_module_state_dict_round_trip(tmp_path):
    model = tt.nn.Sequential(tt.nn.Linear(3, 4, generator=np.random.default_rng(0)),
                             tt.nn.GELU(), tt.nn.Linear(4, 2, generator=np.random.default_rng(1)))
    tt.save(model.state_dict(), tmp_path / "m.npz")
    other = tt.nn.Sequential(tt.nn.Linear(3, 4, generator=np.random.default_rng(5)),
                             tt.nn.GELU(), tt.nn.Linear(4, 2, generator=np.random.default_rng(6)))
    other.load_state_dict(tt.load(tmp_path / "m.npz"))
    for (name, a), (_, b) in zip(model.named_parameters(), other.named_parameters()):
        assert np.array_equal(a.data, b.data), name


def test_files_that_are_not_checkpoints_are_named_and_never_unpickled(tmp_path):
    good = tmp_path / "state.npz"
    tt.save({"config": {"lr": 0.1}, "w": np.arange(1000.0)}, good)
    raw = good.read_bytes()
    cases = {"empty.npz": (b"", "it is empty"),
             "text.npz": (b"hello, not a zip", "does not start as a zip archive"),
             "cut.npz": (raw[:len(raw) // 2], "truncated or damaged"),
             "tail.npz": (raw[:-40], "truncated or damaged"),
             "flipped.npz": (raw[:300] + bytes([raw[300] ^ 0xFF]) + raw[301:], "damaged")}
    np.save(tmp_path / "plain.npy", np.ones(3))
    cases["plain.npy"] = ((tmp_path / "plain.npy").read_bytes(), "not a .npz file")
    for name, (content, fragment) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=fragment) as error:
            tt.load(tmp_path / name)
        assert name in str(error.value) and "allow_pickle" not in str(error.value)


def test_an_object_array_is_refused_without_relaying_numpys_pickle_advice(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, weights=np.ones(2), evil=np.array([None, print], dtype=object))
    with pytest.raises(ValueError, match=r"objects\.npz: entry 'evil' is not a plain") as error:
        tt.load(path)
    assert "pickle=" not in str(error.value)


def test_a_damaged_structure_entry_is_named(tmp_path):
    path = tmp_path / "nested.npz"
    np.savez(path, __tinytorch__=np.array('{"w": {"__ndarray__": "gone"}}'))
    with pytest.raises(ValueError, match=r"nested\.npz: its __tinytorch__ entry.*KeyError"):
        tt.load(path)
    np.savez(path, __tinytorch__=np.array("{not json"))
    with pytest.raises(ValueError, match=r"nested\.npz: its __tinytorch__ entry"):
        tt.load(path)
    np.savez(path, __tinytorch__=np.arange(3))
    with pytest.raises(ValueError, match="not text"):
        tt.load(path)
