"""gpt train --arch and the part flags: a run of Llama's parts trains, saves in a layout that
reads back to the same model, resumes exactly, and refuses mixes no checkpoint can hold."""
import json

import numpy as np
import pytest

from gpt import GPT
from gpt.cli import main
from gpt.config import architecture_parts
from gpt.train import train

from test_train import quiet, tiny_config


def saved_logits(out, idx):
    model = GPT.from_pretrained(out)
    logits, _ = model(idx)
    return model.config, logits.data


def test_a_llama_run_learns_and_saves_in_llamas_layout(tmp_path):
    result = train(tiny_config(tmp_path, "llama", arch="llama", max_iters=60, eval_interval=30,
                               lr=1e-2, min_lr=1e-3), log=quiet)
    losses = result["losses"]
    assert np.mean([losses[i] for i in range(51, 61)]) < 0.7 * np.mean([losses[i] for i in range(1, 6)])
    hf = json.loads((tmp_path / "llama" / "config.json").read_text())
    assert hf["model_type"] == "llama" and hf["num_key_value_heads"] == 1
    assert hf["tie_word_embeddings"] is False
    config, _ = saved_logits(tmp_path / "llama", np.zeros((1, 4), dtype=np.int64))
    assert (config.norm, config.positions, config.mlp) == ("rmsnorm", "rotary", "swiglu")
    assert (config.n_head, config.n_kv_head, config.bias) == (2, 1, False)
    assert not config.tie_embeddings


def test_a_llama_run_resumes_exactly(tmp_path):
    settings = dict(arch="llama", n_head=4, n_embd=16, lr_decay_iters=10)
    whole = train(tiny_config(tmp_path, "whole", max_iters=10, **settings), log=quiet)
    train(tiny_config(tmp_path, "parts", max_iters=7, **settings), log=quiet)
    resumed = train(tiny_config(tmp_path, "parts", max_iters=10, **settings), resume=True,
                    log=quiet)
    for it in range(8, 11):
        assert resumed["losses"][it] == whole["losses"][it], it


@pytest.mark.parametrize("settings, parts", [
    (dict(arch="llama", positions="sinusoidal", mlp="gelu"), dict(positions="sinusoidal")),
    # GPT-2's parts, but a head or key/value heads GPT-2's layout does not have
    (dict(n_kv_head=1), dict(n_kv_head=1, norm="layernorm")),
    (dict(tie_embeddings=False), dict(tie_embeddings=False, mlp="gelu")),
])
def test_a_mix_no_family_has_is_saved_in_our_own_layout_and_reads_back(tmp_path, settings,
                                                                         parts):
    train(tiny_config(tmp_path, "mix", max_iters=3, **settings), log=quiet)
    hf = json.loads((tmp_path / "mix" / "config.json").read_text())
    assert hf["model_type"] == "tinygpt"
    assert all(hf["gpt_config"][name] == value for name, value in parts.items())
    idx = np.array([[1, 2, 3, 4, 5]])
    config, logits = saved_logits(tmp_path / "mix", idx)
    assert all(getattr(config, name) == value for name, value in parts.items())
    # the model written is the model read: a second save and load gives the same numbers
    model = GPT.from_pretrained(tmp_path / "mix")
    model.save_pretrained(tmp_path / "again")
    np.testing.assert_array_equal(GPT.from_pretrained(tmp_path / "again")(idx)[0].data, logits)


def test_architecture_parts_give_each_arch_its_parts_and_overrides_win():
    assert architecture_parts("gpt2", 4)["n_kv_head"] is None
    assert architecture_parts("llama", 4)["n_kv_head"] == 2
    assert architecture_parts("llama", 3)["n_kv_head"] == 3       # no pairs: one each
    assert architecture_parts("llama", 1)["n_kv_head"] == 1
    parts = architecture_parts("llama", 8, n_kv_head=1, norm=None, tie_embeddings=True)
    assert parts["n_kv_head"] == 1 and parts["norm"] == "rmsnorm" and parts["tie_embeddings"]


@pytest.mark.parametrize("settings, message", [
    (dict(arch="mamba"), "--arch must be one of gpt2, llama, got 'mamba'"),
    (dict(arch="llama", n_kv_head=3, n_head=4), "--n-head=4 query heads do not share evenly among --n-kv-head=3"),
    (dict(arch="llama", norm="batchnorm"), "--norm"),
])
def test_a_mix_that_cannot_be_built_is_refused_before_any_work(tmp_path, settings, message):
    with pytest.raises(ValueError, match=message):
        tiny_config(tmp_path, "bad", **settings)
    assert not (tmp_path / "bad").exists()


def test_a_resume_with_other_parts_is_refused(tmp_path):
    train(tiny_config(tmp_path, "run", max_iters=2), log=quiet)
    with pytest.raises(ValueError, match="incompatible resume: arch is llama but the checkpoint "
                                         "has gpt2"):
        train(tiny_config(tmp_path, "run", max_iters=4, arch="llama"), resume=True, log=quiet)


def test_the_flags_reach_the_model(tmp_path, capsys):
    data = tmp_path / "corpus.txt"
    data.write_text("to be or not to be, that is the question\n" * 60, encoding="utf-8")
    main(["train", "--data", str(data), "--char", "--arch", "llama", "--n-kv-head", "1",
          "--n-head", "4", "--n-embd", "16", "--n-layer", "1", "--block-size", "8",
          "--batch-size", "2", "--max-iters", "2", "--eval-iters", "1", "--sample-tokens", "0",
          "--tie-embeddings", "--out", str(tmp_path / "run")])
    config = GPT.from_pretrained(tmp_path / "run").config
    assert (config.n_head, config.n_kv_head, config.tie_embeddings) == (4, 1, True)
    assert config.norm == "rmsnorm"
