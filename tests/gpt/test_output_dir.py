"""Output directories: never over an existing one, and whole or not at all."""
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from gpt.safeguards.output_dir import atomic_directory, check_new_directory, lock_directory, unlock


def test_a_new_or_empty_directory_is_accepted_and_anything_else_refused(tmp_path):
    check_new_directory(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    check_new_directory(tmp_path / "empty")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    (tmp_path / "file").write_text("a file")
    for taken in ("full", "file"):
        with pytest.raises(FileExistsError, match="already exists and is not empty; choose"):
            check_new_directory(tmp_path / taken)
    with pytest.raises(FileExistsError, match="pass --resume"):
        check_new_directory(tmp_path / "full", "pass --resume")


def test_the_directory_appears_whole_or_not_at_all(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_directory(tmp_path / "out") as temporary:
            (temporary / "model.safetensors").write_text("half")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []                   # no output, no temporary

    with atomic_directory(tmp_path / "nested" / "out") as temporary:
        assert temporary.parent == tmp_path / "nested" and not (temporary.parent / "out").exists()
        (temporary / "a.txt").write_text("a")
        (temporary / "b.txt").write_text("b")
    assert sorted(p.name for p in (tmp_path / "nested" / "out").iterdir()) == ["a.txt", "b.txt"]
    assert [p.name for p in (tmp_path / "nested").iterdir()] == ["out"]

    (tmp_path / "empty").mkdir()
    with atomic_directory(tmp_path / "empty") as temporary:
        (temporary / "a.txt").write_text("a")
    assert [p.name for p in (tmp_path / "empty").iterdir()] == ["a.txt"]
    with pytest.raises(FileExistsError):
        with atomic_directory(tmp_path / "empty"):
            pass


# ----- checked at the start, locked while written, leftovers of killed runs removed ---------

def in_child(work):
    """work() in a forked copy of this process; its exit code (0 if it returned, 1 if it
    raised, or whatever code it gave os._exit)."""
    pid = os.fork()
    if pid == 0:
        try:
            work()
            code = 0
        except BaseException:
            code = 1
        os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_a_killed_run_leaves_no_output_and_its_leftovers_go_at_the_next_start(tmp_path):
    out = tmp_path / "out"

    def killed_while_writing():
        with atomic_directory(out) as temporary:
            (temporary / "model.safetensors").write_text("half")
            os._exit(9)                          # a kill: no cleanup runs

    assert in_child(killed_while_writing) == 9
    assert not out.exists()
    [leftover] = tmp_path.iterdir()
    assert leftover.name.startswith(".tmp-out-")
    with atomic_directory(out) as temporary:
        assert not leftover.exists()             # removed before anything else happens
        (temporary / "a.txt").write_text("a")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_second_run_for_the_same_output_is_refused_at_once(tmp_path):
    out = tmp_path / "out"
    with atomic_directory(out):
        with pytest.raises(BlockingIOError, match="another run is writing") as error:
            with atomic_directory(out):
                pass
        assert error.value.filename == str(out)
    assert out.is_dir()


def test_lock_directory_is_exclusive_while_held(tmp_path):
    first = lock_directory(tmp_path, "busy")
    with pytest.raises(BlockingIOError, match="busy"):
        lock_directory(tmp_path, "busy")
    unlock(first)
    unlock(lock_directory(tmp_path, "busy"))


def test_an_output_that_cannot_be_written_is_refused_before_the_body_runs(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    ran = []
    with pytest.raises(NotADirectoryError) as error:
        with atomic_directory(tmp_path / "file" / "out"):
            ran.append(True)
    assert not ran and error.value.filename == str(tmp_path / "file" / "out")

    # A read-only folder. root may write anywhere, so a root test process checks it in a
    # forked child that has given up root.
    shared = Path(tempfile.mkdtemp())
    try:
        shared.chmod(0o755)
        read_only = shared / "read-only"
        read_only.mkdir(mode=0o555)
        read_only.chmod(0o555)
        report = shared / "report"
        report.touch(mode=0o666)
        report.chmod(0o666)

        def as_a_user():
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            try:
                with atomic_directory(read_only / "out"):
                    report.write_text("the body ran")
            except PermissionError as refused:
                report.write_text(f"refused: {refused.filename}")

        assert in_child(as_a_user) == 0
        assert report.read_text() == f"refused: {read_only / 'out'}"
        assert os.listdir(read_only) == []
    finally:
        shutil.rmtree(shared)


def test_fine_tuning_checks_its_output_before_loading_anything(tmp_path):
    from gpt.finetune.train_classifier import ClassifyConfig, finetune_classifier
    from gpt.finetune.train_instructions import InstructConfig, finetune_instruct
    (tmp_path / "file").write_text("not a folder")
    out = tmp_path / "file" / "out"
    lines = []
    # the model and data do not exist: the output is what is refused, before they are read
    with pytest.raises(NotADirectoryError, match="file/out"):
        finetune_classifier(ClassifyConfig(model=str(tmp_path / "no-model"),
                                           data=str(tmp_path / "no-data"), out=str(out)),
                            log=lines.append)
    with pytest.raises(NotADirectoryError, match="file/out"):
        finetune_instruct(InstructConfig(model=str(tmp_path / "no-model"),
                                         data=str(tmp_path / "no-data"), out=str(out)),
                          log=lines.append)
    assert lines == [] and sorted(os.listdir(tmp_path)) == ["file"]
