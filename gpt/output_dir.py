"""Output directories: never written over, and written whole or not at all.

A command that writes a directory (a classifier, an instruction-tuned model) refuses one that
already holds something, and says so at the start, before minutes of training rather than
after. At the end it writes every file into a temporary directory beside the output and then
renames it into place, so an interruption (Ctrl-C, a full disk, an error) leaves no
half-filled directory behind that a rerun would refuse:

    check_new_directory(out)                   # at the start of the run
    ...                                        # train
    with atomic_directory(out) as temporary:   # at the end
        model.save_pretrained(temporary)
        save_tokenizer(tokenizer, temporary)
    # `out` now holds both files; after an exception it does not exist

It is `tinytorch.serialization.atomic_write` for a directory: a rename within one folder is
atomic, so `out` appears complete or not at all.
"""
import contextlib
import os
import shutil
import uuid
from pathlib import Path


def check_new_directory(directory, advice="choose another --out or remove it first"):
    """A FileExistsError (ending with `advice`) unless `directory` is absent or empty."""
    directory = Path(directory)
    if directory.exists() and not (directory.is_dir() and not any(directory.iterdir())):
        raise FileExistsError(f"{directory} already exists and is not empty; {advice}")


@contextlib.contextmanager
def atomic_directory(directory):
    """Yield a new temporary directory beside `directory`; on success rename it to
    `directory` (which must be new or empty), on an exception remove it."""
    directory = Path(directory)
    check_new_directory(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    # mkdir (not tempfile.mkdtemp, which makes it private to its owner) so that the result
    # gets the permissions of any directory the user creates.
    temporary = directory.parent / f".tmp-{directory.name}-{uuid.uuid4().hex[:8]}"
    temporary.mkdir()
    try:
        yield temporary
        check_new_directory(directory)          # nothing appeared there meanwhile
        os.replace(temporary, directory)        # an empty directory may be replaced
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
