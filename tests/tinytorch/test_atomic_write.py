"""Atomic writes, binary (tinytorch.serialization.atomic_write) and text (bpe's
write_text_atomically, its copy on the bpe side of the layering): the umask's permissions,
errors that name the file and never the temporary one, and no temporary left behind."""
import contextlib
import errno
import os
import resource
import signal

import pytest

from bpe.model_file import write_text_atomically
from tinytorch.serialization import atomic_write, leftover_temporaries


def write_binary(path, text):
    with atomic_write(path) as f:
        f.write(text.encode("utf-8"))


WRITERS = {"atomic_write": write_binary, "write_text_atomically": write_text_atomically}


@contextlib.contextmanager
def umask(mask):
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_get_the_permissions_the_umask_gives(tmp_path, writer, mask, mode):
    path = tmp_path / "file.txt"
    with umask(mask):
        WRITERS[writer](path, "new")                     # a new file
        assert os.stat(path).st_mode & 0o777 == mode
        WRITERS[writer](path, "newer")                   # and one written over
    assert os.stat(path).st_mode & 0o777 == mode and path.read_text() == "newer"


@pytest.mark.parametrize("writer", WRITERS)
def test_errors_name_the_file_never_the_temporary_one(tmp_path, writer):
    (tmp_path / "folder").mkdir()
    with pytest.raises(IsADirectoryError) as error:     # `bpe train --out DIR`
        WRITERS[writer](tmp_path / "folder", "x")
    assert error.value.filename == str(tmp_path / "folder") and ".tmp" not in str(error.value)
    with pytest.raises(FileNotFoundError) as error:     # `attention --svg missing/x.svg`
        WRITERS[writer](tmp_path / "missing" / "x.svg", "x")
    assert str(tmp_path / "missing") in str(error.value) and ".tmp" not in str(error.value)
    assert sorted(os.listdir(tmp_path)) == ["folder"]


def in_child(work):
    """work() in a forked copy of this process; its exit code (0 if it returned)."""
    pid = os.fork()
    if pid == 0:
        try:
            work()
            code = 0
        except BaseException:
            code = 1
        os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@pytest.mark.parametrize("writer", WRITERS)
def test_a_write_that_fails_keeps_the_old_file_and_names_the_new_one(tmp_path, writer):
    # A real failing write(2), as a full disk gives: a file size limit (RLIMIT_FSIZE) set in
    # a forked child, so that the kernel refuses the bytes beyond it (EFBIG).
    path = tmp_path / "file.txt"
    WRITERS[writer](path, "old")
    report = tmp_path / "report.txt"

    def write_too_much():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)    # an error, not a killed process
        _, hard_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, hard_limit))
        try:
            WRITERS[writer](path, "x" * 100_000)
        except OSError as error:
            resource.setrlimit(resource.RLIMIT_FSIZE, (hard_limit, hard_limit))
            report.write_text(f"{error.errno} {error.filename}")

    assert in_child(write_too_much) == 0
    assert report.read_text() == f"{errno.EFBIG} {path}"
    assert path.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["file.txt", "report.txt"]


@pytest.mark.parametrize("writer", WRITERS)
def test_ctrl_c_right_after_the_rename_keeps_the_new_file(tmp_path, writer, monkeypatch):
    # The double Ctrl-C bug: an interrupt that lands after the rename must not try to remove
    # the temporary file again (it is gone) and turn a finished write into another error.
    path = tmp_path / "file.txt"
    replace = os.replace

    def replace_then_interrupt(source, target):
        replace(source, target)
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", replace_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        WRITERS[writer](path, "new")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["file.txt"] and path.read_text() == "new"


def test_leftover_temporaries_are_found_by_name(tmp_path):
    names = [".tmp-0123abcd-metrics.jsonl", ".tmp-0123abcd-notes.txt", "metrics.jsonl",
             ".tmp-xyz-metrics.jsonl", ".tmp-89abcdef-loss.svg"]
    for name in names:
        (tmp_path / name).write_text("")
    found = leftover_temporaries(tmp_path, ("metrics.jsonl", "loss.svg"))
    assert sorted(os.path.basename(p) for p in found) == [".tmp-0123abcd-metrics.jsonl",
                                                         ".tmp-89abcdef-loss.svg"]
