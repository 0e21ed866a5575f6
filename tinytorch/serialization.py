"""Saving and loading state dicts as `.npz` files, never with pickle.

    tt.save(model.state_dict(), "model.npz")
    model.load_state_dict(tt.load("model.npz"))

A `.npz` file is a zip archive of `.npy` files, one per array. A flat `{name: ndarray}` dict is
written as exactly that, so `np.load(path, allow_pickle=False)` reads it too. A nested object
(a training checkpoint: the model's arrays, the optimizer's state, the step number, the config)
is stored as its arrays, named by their path (`optimizer/state/0/exp_avg`), plus one extra
entry, `__tinytorch__`, holding the rest of the tree as JSON text: the dicts and lists, the
Python numbers and strings, and for each array the entry that holds it.

What can be saved: dicts with string keys, lists and tuples (tuples come back as lists),
ndarrays of any non-object dtype (NumPy scalars come back as 0-d arrays), and Python int,
float, bool, str and None (floats, inf and nan included, come back bit for bit: JSON writes
the shortest text that reads back as the same float).

Pickle is never used because loading a pickle runs code the file chooses; a checkpoint
downloaded from somewhere must not be able to do that.
"""
import contextlib
import errno
import json
import os
import re
import uuid
import zipfile
import zlib

import numpy as np

STRUCTURE_KEY = "__tinytorch__"      # the npz entry with the JSON skeleton of a nested object
_ARRAY_MARK = "__ndarray__"          # {"__ndarray__": entry name} stands for an array in it
TEMPORARY_PREFIX = ".tmp-"           # atomic_write's temporary files: .tmp-<8 hex>-<name>
# A zip archive (an .npz) starts with a local file header, or, if empty, the end record.
_ZIP_STARTS = (b"PK\x03\x04", b"PK\x05\x06")


@contextlib.contextmanager
def atomic_write(path):
    """Open a temporary file beside `path` for binary writing; on success make it `path`.

    The data is flushed and fsynced before `os.replace` renames it over `path` (a rename within
    one directory is atomic), so a crash or Ctrl-C mid-save leaves either the old file or the
    new one, never half of one. On an exception the temporary file is removed. The file gets
    the permissions the user's umask gives (as `open` would make it), and an error names
    `path`, never the temporary file (`.tmp-<8 hex digits>-<name>`, see `leftover_temporaries`).
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):               # say so now, not after writing a large file
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    try:
        fd, temp_path = _create_temporary(directory, os.path.basename(path))
    except OSError as error:
        raise _naming(error, path) from None
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp_path, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):   # gone already if the rename happened
            os.remove(temp_path)
        if isinstance(error, OSError) and error.filename in (None, temp_path):
            raise _naming(error, path) from None
        raise
    fsync_directory(directory)    # make the rename itself survive a power cut


def _create_temporary(directory, name):
    """(fd, path) of a new file `.tmp-<8 hex>-<name>` in `directory`, open for writing.

    Not tempfile.mkstemp: it makes files private to their owner (0600), and a checkpoint or
    a picture should get the permissions any file the user creates gets (0666 minus umask)."""
    while True:
        temp_path = os.path.join(directory,
                                 f"{TEMPORARY_PREFIX}{uuid.uuid4().hex[:8]}-{name[:200]}")
        try:
            return os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), temp_path
        except FileExistsError:
            continue                      # a name already taken: draw another


def _naming(error, path):
    """The same kind of OSError as `error`, about `path` (not the temporary file)."""
    return type(error)(error.errno, error.strerror or str(error), path)


def leftover_temporaries(directory, names):
    """The temporary files `atomic_write` left in `directory` for files called one of `names`
    (a process killed mid-write leaves one; nothing else removes it)."""
    pattern = re.compile(re.escape(TEMPORARY_PREFIX) + r"[0-9a-f]{8}-(.*)")
    found = []
    for entry in os.scandir(directory):
        match = pattern.fullmatch(entry.name)
        if match and match[1] in names and entry.is_file(follow_symlinks=False):
            found.append(entry.path)
    return found


def fsync_directory(directory):
    """Make the entries of `directory` (new names, renames, removals) durable (POSIX)."""
    if not hasattr(os, "O_DIRECTORY"):
        return                            # Windows: no directory handles to fsync
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_json(path, obj, sort_keys=True):
    """Write JSON atomically (see atomic_write), as UTF-8 that keeps non-ASCII text readable,
    indented. Keys sorted (as Hugging Face writes config.json); sort_keys=False keeps them in
    the order the dicts hold them."""
    text = json.dumps(obj, indent=2, sort_keys=sort_keys, ensure_ascii=False) + "\n"
    with atomic_write(path) as f:
        f.write(text.encode("utf-8"))


def save(state_dict, path):
    """Write `state_dict` (see the module docstring for what it may contain) to `path` as .npz.

    The file is written exactly at `path` (no `.npz` is appended) and atomically.
    """
    arrays = {}
    if isinstance(state_dict, dict) and all(isinstance(v, np.ndarray) for v in state_dict.values()):
        for key in state_dict:
            _check_key(key, "")
        arrays.update(state_dict)                  # flat: a plain .npz, no skeleton needed
    else:
        skeleton = _split(state_dict, "", arrays)
        arrays[STRUCTURE_KEY] = np.array(json.dumps(skeleton, allow_nan=True))
    with atomic_write(path) as file:
        # Written member by member (as np.savez does) so that a key such as "file" cannot
        # clash with a keyword argument, and allow_pickle=False refuses object arrays.
        with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            for key, array in arrays.items():
                if array.dtype.hasobject:
                    raise TypeError(f"save: {key!r} is an object array, which only pickle could "
                                    f"store; convert it to a numeric or string dtype")
                with archive.open(key + ".npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, array, allow_pickle=False)


def load(path):
    """Read a file written by `save` (or any .npz without object arrays).

    Returns `{name: ndarray}` for a flat file, else the nested object as it was saved. A file
    that is not such an archive (empty, truncated, damaged, holding pickled objects) is a
    ValueError naming it; pickles are never loaded (see the module docstring).
    """
    # Our own file object: np.load leaves a file it opened itself open when the archive in it
    # turns out to be damaged.
    with open(path, "rb") as file:
        start = file.read(4)
        if start not in _ZIP_STARTS:
            what = "it is empty" if not start else "it does not start as a zip archive does"
            raise ValueError(f"{path}: not a .npz file written by tinytorch.save ({what}); the "
                             f"file is damaged or of another kind")
        file.seek(0)
        try:
            with np.load(file, allow_pickle=False) as archive:
                arrays = {key: _read_entry(path, archive, key) for key in archive.files}
        except (zipfile.BadZipFile, zlib.error, EOFError) as error:
            raise ValueError(f"{path}: truncated or damaged ({error}); it cannot be "
                             f"read") from None
    if STRUCTURE_KEY not in arrays:
        return arrays
    structure = arrays.pop(STRUCTURE_KEY)
    try:
        if structure.shape != () or structure.dtype.kind != "U":
            raise TypeError(f"a {structure.dtype} array of shape {structure.shape}, not text")
        return _join(json.loads(structure.item()), arrays)
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: its {STRUCTURE_KEY} entry, which says how the arrays nest, "
                         f"is damaged ({type(error).__name__}: {error})") from None


def _read_entry(path, archive, key):
    """One array of an open .npz. NumPy's own message for an object array is advice about
    pickles; a checkpoint from elsewhere must not be loaded that way, so it is not relayed."""
    try:
        return archive[key]
    except ValueError:
        raise ValueError(f"{path}: entry {key!r} is not a plain array (it holds Python objects, "
                         f"which only pickle can read, or it is damaged); tinytorch reads "
                         f"numeric and string arrays only") from None


def _check_key(key, path):
    if not isinstance(key, str):
        raise TypeError(f"save: keys must be strings, got {key!r} ({type(key).__name__}) "
                        f"at {path or 'the top level'}")
    if "/" in key or key == STRUCTURE_KEY or key.startswith(_ARRAY_MARK):
        raise ValueError(f"save: key {key!r} at {path or 'the top level'} is reserved or "
                         f"contains '/', which separates the levels of a nested key")


def _split(value, path, arrays):
    """The JSON skeleton of `value`; its arrays go into `arrays` under their path."""
    if isinstance(value, (np.ndarray, np.generic)):
        name = path or "array"
        arrays[name] = np.asarray(value)
        return {_ARRAY_MARK: name}
    if isinstance(value, dict):
        for key in value:
            _check_key(key, path)
        return {key: _split(item, f"{path}/{key}" if path else key, arrays)
                for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_split(item, f"{path}/{i}" if path else str(i), arrays)
                for i, item in enumerate(value)]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"save: cannot store {type(value).__name__} at {path or 'the top level'}; "
                    f"use ndarrays, dicts, lists and Python numbers or strings")


def _join(skeleton, arrays):
    """Undo `_split`: put the arrays back where their marks stand."""
    if isinstance(skeleton, dict):
        if set(skeleton) == {_ARRAY_MARK}:
            return arrays[skeleton[_ARRAY_MARK]]
        return {key: _join(item, arrays) for key, item in skeleton.items()}
    if isinstance(skeleton, list):
        return [_join(item, arrays) for item in skeleton]
    return skeleton
