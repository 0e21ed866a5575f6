"""A training run's directory: one checkpoint, replaced safely again and again, by one run.

The top level keeps the layout that Hugging Face tools and `python -m gpt sample` read
(config.json, model.safetensors, the tokenizer, train_state.npz, loss.svg), beside the log
that grows as training goes (metrics.jsonl, gpt.safeguards.metrics). A checkpoint is several files, and
replacing them one by one is not atomic, so `replace_checkpoint` saves in four steps:

    1. write the new checkpoint into .checkpoint-staging/            (each file fsynced)
    2. hard-link the current checkpoint's files into .checkpoint-previous-incomplete/ and,
       once all are there, rename that to .checkpoint-previous/: a complete copy of the
       checkpoint being replaced now exists (links are instant: nothing is copied)
    3. move the staged files over the top-level ones, one by one             (os.replace)
    4. rename .checkpoint-previous/ back to ...-incomplete/ (from this moment the new
       checkpoint is the one), then remove it and the staging folder

A kill, a full disk or an error at any point leaves one of three states, and `recover` turns
each into a complete, consistent checkpoint (`open` runs it before anything else; after an
error, `replace_checkpoint` runs it at once, so that a failed save changes nothing):

    steps 1-2        the old checkpoint, untouched   -> throw the helper folders away
    step 3, until    old and new files mixed at the  -> put the previous copy back the same
    4's rename       top, and .checkpoint-previous/     way (staged links, moved one by one),
                                                        so that a kill while recovering is
                                                        recovered from too
    after that       the new checkpoint              -> throw the helper folders away

Before the first save there is no checkpoint: the previous copy is then an empty folder, and
putting it back removes the new checkpoint's files, back to "no checkpoint".

`open` also takes an exclusive lock on the directory (gpt.safeguards.output_dir.lock_directory), held
until `close`: a second run on the same directory is refused at once instead of interleaving
its saves with the first one's.
"""
import contextlib
import errno
import os
import shutil
from pathlib import Path

from tinytorch.serialization import fsync_directory, leftover_temporaries

from .output_dir import lock_directory, unlock

STAGING = ".checkpoint-staging"
PREVIOUS = ".checkpoint-previous"
INCOMPLETE = ".checkpoint-previous-incomplete"
HELPERS = (STAGING, PREVIOUS, INCOMPLETE)
IN_USE = "another training run is using this directory; wait for it to end or choose another --out"


class RunDirectory:
    """The directory at `path`, whose checkpoint consists of whichever of `checkpoint_files`
    (file names) a save writes; `log_files` are the other files the run writes there."""

    def __init__(self, path, checkpoint_files, log_files=()):
        self.path = Path(path)
        self.checkpoint_files = tuple(checkpoint_files)
        self.log_files = tuple(log_files)
        self._lock = None

    def open(self, create):
        """Lock the directory (making it first, with its parents, if `create`) and recover
        from a save that was cut short. Returns True if that restored a checkpoint."""
        if create:
            self.path.mkdir(parents=True, exist_ok=True)
        self._lock = lock_directory(self.path, IN_USE)
        try:
            return self.recover()
        except BaseException:
            self.close()
            raise

    def close(self):
        unlock(self._lock)
        self._lock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def replace_checkpoint(self, write_files):
        """Replace the checkpoint with the files `write_files(folder)` writes into `folder`
        (steps 1 to 4 of the module docstring). On an error the old checkpoint is put back
        (or, if that fails too, the next `open` puts it back) and the error names the
        top-level file, never a helper folder."""
        try:
            staging = self._new_folder(STAGING)
            write_files(staging)
            unknown = sorted(set(os.listdir(staging)) - set(self.checkpoint_files))
            if unknown:        # a file the previous copy and recovery would not know of
                raise ValueError(f"{unknown[0]} is not one of the checkpoint files "
                                 f"{', '.join(self.checkpoint_files)}")
            fsync_directory(staging)
            self._keep_previous()
            self._install(staging)
            self._drop_previous()          # the new checkpoint is the one from now on
        except BaseException as error:
            with contextlib.suppress(OSError):
                self.recover()
            if isinstance(error, OSError) and error.filename is not None:
                raise self._about_top_level(error) from None
            raise
        with contextlib.suppress(OSError):  # what is left is removed at the next `open`
            self._remove_helpers()

    def recover(self):
        """Turn what a cut-short save left into a complete checkpoint (see the module
        docstring) and remove the helper folders and temporary files. True if it restored
        the previous checkpoint."""
        previous = self.path / PREVIOUS
        restored = previous.is_dir()
        if restored:
            staging = self._new_folder(STAGING)
            for entry in previous.iterdir():
                link_or_copy(entry, staging / entry.name)
            fsync_directory(staging)
            self._install(staging)
            self._drop_previous()
        self._remove_helpers()
        for leftover in leftover_temporaries(self.path, self.checkpoint_files + self.log_files):
            os.remove(leftover)
        return restored

    def has_file(self, name):
        return (self.path / name).is_file()

    def unknown_entries(self):
        """Names at the top level that are neither checkpoint nor log files: not this run's."""
        return sorted(set(os.listdir(self.path)) - set(self.checkpoint_files)
                      - set(self.log_files))

    # ----- the steps -------------------------------------------------------------------------

    def _keep_previous(self):
        """Step 2: a complete hard-linked copy of the current checkpoint, under its final
        name only once complete."""
        incomplete = self._new_folder(INCOMPLETE)
        for name in self.checkpoint_files:
            if self.has_file(name):
                link_or_copy(self.path / name, incomplete / name)
        fsync_directory(incomplete)
        os.rename(incomplete, self.path / PREVIOUS)
        fsync_directory(self.path)

    def _install(self, staging):
        """Step 3: make the top level's checkpoint exactly the files in `staging`."""
        staged = sorted(os.listdir(staging))
        for name in self.checkpoint_files:
            if name not in staged and self.has_file(name):
                os.remove(self.path / name)
        for name in staged:
            os.replace(staging / name, self.path / name)
        fsync_directory(self.path)

    def _drop_previous(self):
        """Step 4's first half: the previous copy is renamed (one atomic step) before it is
        removed, as a half-removed copy must never look complete."""
        remove_tree(self.path / INCOMPLETE)
        os.rename(self.path / PREVIOUS, self.path / INCOMPLETE)

    def _remove_helpers(self):
        """Step 4's second half (and the end of `recover`): no helper folder is left."""
        remove_tree(self.path / INCOMPLETE)
        remove_tree(self.path / STAGING)

    def _new_folder(self, name):
        folder = self.path / name
        remove_tree(folder)
        folder.mkdir()
        return folder

    def _about_top_level(self, error):
        """`error`, naming the top-level file a helper-folder path stands for."""
        filename = Path(error.filename)
        if filename.name in HELPERS:
            filename = self.path
        elif filename.parent.name in HELPERS:
            filename = self.path / filename.name
        return type(error)(error.errno, error.strerror or str(error), str(filename))


def link_or_copy(source, target):
    """Hard-link `source` as `target`; copy it (fsynced) where the file system has no hard
    links."""
    try:
        os.link(source, target)
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        shutil.copyfile(source, target)
        with open(target, "rb+") as copy:
            os.fsync(copy.fileno())


def remove_tree(path):
    """Remove the folder (or file) at `path`, if there is one."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        os.remove(path)
