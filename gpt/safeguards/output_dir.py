"""Output directories: never written over, written whole or not at all, by one run at a time.

A command that writes a directory (a classifier, an instruction-tuned model) refuses one that
already holds something, and checks that it can write there, at the start, before minutes of
training rather than after. It makes a hidden temporary directory beside the output at once
(which proves the place is writable), writes every file into it at the end, and then renames
it into place, so an interruption (Ctrl-C, a kill, a full disk, an error) leaves no
half-filled directory behind that a rerun would refuse:

    with atomic_directory(out) as temporary:   # at the start of the run: checks, reserves
        ...                                    # train
        model.save_pretrained(temporary)       # at the end
        save_tokenizer(tokenizer, temporary)
    # `out` now holds both files; after an exception it does not exist

It is `tinytorch.serialization.atomic_write` for a directory: a rename within one folder is
atomic, so `out` appears complete or not at all. The temporary directory is locked (flock)
while its run lives: a kill (which runs no cleanup) leaves it unlocked, and the next run for the
same output removes it; a run that finds it locked refuses at once (another run is writing
that output).

`lock_directory` is the lock itself; a training run holds one on its run directory
(gpt.safeguards.run_directory).
"""
import contextlib
import errno
import os
import re
import shutil
import uuid
from pathlib import Path

try:
    import fcntl
except ImportError:                       # Windows: no flock, runs are not locked
    fcntl = None

WRITING = "another run is writing this output directory; wait for it to end or choose another --out"


def check_new_directory(directory, advice="choose another --out or remove it first"):
    """A FileExistsError (ending with `advice`) unless `directory` is absent or empty."""
    directory = Path(directory)
    if directory.exists() and not (directory.is_dir() and not any(directory.iterdir())):
        raise FileExistsError(f"{directory} already exists and is not empty; {advice}")


def lock_directory(directory, in_use):
    """An open descriptor of `directory` holding an exclusive lock on it, which lasts until
    the descriptor is closed (or the process ends, however it ends). If another process holds
    the lock: a BlockingIOError about `directory` whose message is `in_use`.

    The lock is flock on the directory's own descriptor (Linux allows it), so it needs no lock
    file that a kill could leave behind. Where there is no flock (Windows): None, no lock."""
    if fcntl is None:
        return None
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise BlockingIOError(errno.EWOULDBLOCK, in_use, str(directory)) from None
    except OSError:
        pass          # a file system without flock (some network ones): run unlocked
    return fd


@contextlib.contextmanager
def atomic_directory(directory):
    """Yield a new temporary directory beside `directory`, made (and locked) at once; on
    success rename it to `directory` (which must be new or empty), on an exception remove
    it. Leftovers of killed runs for the same `directory` are removed first. Errors name
    `directory`, never the temporary one."""
    directory = Path(directory)
    check_new_directory(directory)
    try:
        if directory.parent.exists() and not directory.parent.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        directory.parent.mkdir(parents=True, exist_ok=True)
        remove_abandoned_temporaries(directory)
        # mkdir (not tempfile.mkdtemp, which makes it private to its owner) so that the
        # result gets the permissions of any directory the user creates.
        temporary = directory.parent / f".tmp-{directory.name}-{uuid.uuid4().hex[:8]}"
        temporary.mkdir()
    except OSError as error:
        raise _about(error, directory) from None
    try:
        lock = lock_directory(temporary, WRITING)      # held until the run ends, however
    except OSError as error:        # (a run for the same output, starting at the same moment)
        shutil.rmtree(temporary, ignore_errors=True)
        raise _about(error, directory) from None
    try:
        yield temporary
        check_new_directory(directory)          # nothing appeared there meanwhile
        try:
            os.replace(temporary, directory)    # an empty directory may be replaced
        except OSError as error:
            raise _about(error, directory) from None
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    finally:
        unlock(lock)


def remove_abandoned_temporaries(directory):
    """Remove the temporary directories that killed runs left for `directory`; a
    BlockingIOError if a live run (holding its lock) is writing one."""
    directory = Path(directory)
    pattern = re.compile(re.escape(f".tmp-{directory.name}-") + "[0-9a-f]{8}")
    for entry in directory.parent.iterdir():
        if pattern.fullmatch(entry.name) and entry.is_dir() and not entry.is_symlink():
            try:
                unlock(lock_directory(entry, WRITING))      # no live run holds it
            except BlockingIOError as error:
                raise _about(error, directory) from None
            shutil.rmtree(entry)


def unlock(lock):
    """Release a lock from `lock_directory`."""
    if lock is not None:
        os.close(lock)


def _about(error, directory):
    """The same kind of OSError as `error`, about `directory` (not a temporary name)."""
    return type(error)(error.errno, error.strerror or str(error), str(directory))
