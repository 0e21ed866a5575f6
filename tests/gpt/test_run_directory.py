"""A run directory's checkpoint is replaced as a whole, and what a cut-short save leaves is
finished or undone at the next start (the forked kills are in test_crash_safety.py)."""
import errno
import os

import pytest

from gpt.safeguards import run_directory
from gpt.safeguards.run_directory import INCOMPLETE, PREVIOUS, STAGING, RunDirectory

FILES = ("config.json", "model.safetensors", "state.npz", "tokenizer.a", "tokenizer.b")


def checkpoint(folder, version, names=("config.json", "model.safetensors", "state.npz",
                                       "tokenizer.a")):
    for name in names:
        (folder / name).write_text(f"{name} {version}")


def contents(folder):
    return {p.name: p.read_text() for p in folder.iterdir()}


def opened(path, create=True):
    directory = RunDirectory(path, FILES, log_files=("log.jsonl",))
    restored = directory.open(create=create)
    return directory, restored


def test_a_save_replaces_the_whole_checkpoint_and_leaves_only_its_files(tmp_path):
    directory, restored = opened(tmp_path / "run")
    assert not restored and os.listdir(tmp_path / "run") == []
    (tmp_path / "run" / "log.jsonl").write_text("kept")
    directory.replace_checkpoint(lambda folder: checkpoint(folder, 1))
    directory.replace_checkpoint(lambda folder: checkpoint(
        folder, 2, ("config.json", "model.safetensors", "state.npz", "tokenizer.b")))
    # a file the new checkpoint does not have (another tokenizer form) is gone
    assert contents(tmp_path / "run") == {
        "config.json": "config.json 2", "model.safetensors": "model.safetensors 2",
        "state.npz": "state.npz 2", "tokenizer.b": "tokenizer.b 2", "log.jsonl": "kept"}
    directory.close()


def cut_short_in_step_3(path, moved):
    """What a kill leaves after `moved` of the new files were put in place."""
    current = [name for name in os.listdir(path) if name in FILES]
    (path / PREVIOUS).mkdir()
    for name in current:
        os.link(path / name, path / PREVIOUS / name)
    (path / STAGING).mkdir()
    checkpoint(path / STAGING, 2)
    for name in sorted(os.listdir(path / STAGING))[:moved]:
        os.replace(path / STAGING / name, path / name)


@pytest.mark.parametrize("moved", [0, 2, 4])
def test_a_save_cut_short_while_replacing_files_is_undone(tmp_path, moved):
    path = tmp_path / "run"
    path.mkdir()
    checkpoint(path, 1)
    cut_short_in_step_3(path, moved)
    directory, restored = opened(path)
    assert restored
    assert contents(path) == {name: f"{name} 1" for name in FILES[:4]}
    directory.close()


def test_a_first_save_cut_short_goes_back_to_no_checkpoint(tmp_path):
    path = tmp_path / "run"
    path.mkdir()
    (path / "log.jsonl").write_text("")
    cut_short_in_step_3(path, 3)
    assert (path / "config.json").exists()
    directory, restored = opened(path)
    assert restored and os.listdir(path) == ["log.jsonl"]
    directory.close()


def test_leftovers_outside_step_3_are_thrown_away(tmp_path):
    path = tmp_path / "run"
    path.mkdir()
    checkpoint(path, 1)
    for helper in (STAGING, INCOMPLETE):                      # steps 1-2, or after step 4
        (path / helper).mkdir()
        checkpoint(path / helper, 2)
    (path / ".tmp-0123abcd-log.jsonl").write_text("half")     # an atomic write cut short
    (path / ".tmp-0123abcd-notes.txt").write_text("not ours")
    directory, restored = opened(path)
    assert not restored
    assert sorted(os.listdir(path)) == sorted([*FILES[:4], ".tmp-0123abcd-notes.txt"])
    assert (path / "config.json").read_text() == "config.json 1"
    directory.close()


def test_a_failed_save_changes_nothing_and_names_the_top_level_file(tmp_path):
    path = tmp_path / "run"
    directory, _ = opened(path)
    directory.replace_checkpoint(lambda folder: checkpoint(folder, 1))

    def full_disk(folder):
        checkpoint(folder, 2, ("config.json",))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder / "model.safetensors"))

    with pytest.raises(OSError) as error:
        directory.replace_checkpoint(full_disk)
    assert error.value.errno == errno.ENOSPC
    assert error.value.filename == str(path / "model.safetensors")
    assert contents(path) == {name: f"{name} 1" for name in FILES[:4]}
    directory.close()


def test_a_second_run_is_refused_while_the_first_holds_the_directory(tmp_path):
    first, _ = opened(tmp_path / "run")
    with pytest.raises(BlockingIOError, match="another training run is using") as error:
        opened(tmp_path / "run")
    assert error.value.filename == str(tmp_path / "run")
    first.close()
    second, _ = opened(tmp_path / "run")
    second.close()


def test_without_hard_links_the_previous_checkpoint_is_copied(tmp_path, monkeypatch):
    def no_hard_links(source, target):
        raise PermissionError(errno.EPERM, "Operation not permitted", source)

    path = tmp_path / "run"
    directory, _ = opened(path)
    directory.replace_checkpoint(lambda folder: checkpoint(folder, 1))
    monkeypatch.setattr(os, "link", no_hard_links)
    run_directory.link_or_copy(path / "config.json", tmp_path / "copy.json")
    assert (tmp_path / "copy.json").read_text() == "config.json 1"
    directory.replace_checkpoint(lambda folder: checkpoint(folder, 2))
    assert contents(path) == {name: f"{name} 2" for name in FILES[:4]}
    directory.close()


def test_a_save_may_only_write_the_checkpoint_files_it_was_told_of(tmp_path):
    directory, _ = opened(tmp_path / "run")
    directory.replace_checkpoint(lambda folder: checkpoint(folder, 1))
    with pytest.raises(ValueError, match="tokenizer.json is not one of the checkpoint files"):
        directory.replace_checkpoint(lambda folder: checkpoint(folder, 2, ("tokenizer.json",)))
    assert contents(tmp_path / "run") == {name: f"{name} 1" for name in FILES[:4]}
    directory.close()
