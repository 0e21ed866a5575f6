"""Our own tokenizer file: one human-readable text file, written atomically.

    bpe tokenizer v1
    pattern: "'(?i:[sdmt]|ll|ve|re)|..."      (a JSON string, or null for no pre-splitting)
    special: "<|endoftext|>" 512               (one line per special token: JSON string, id)
    merges: 256
    101 32	"e" + " " -> "e "                  (left id, right id; merge i makes id 256 + i)
    ...

Everything after the tab on a merge line is a comment for the reader; only the two ids count.
"""
import contextlib
import errno
import json
import os
import uuid

from bpe.readable import render_merge

MAGIC = "bpe tokenizer v1"


def write_model_file(path, pattern, special_tokens, merges, token_bytes):
    """Write the file (atomically, see `write_text_atomically`)."""
    lines = [MAGIC, "pattern: " + json.dumps(pattern, ensure_ascii=False)]
    for text, token_id in sorted(special_tokens.items(), key=lambda item: item[1]):
        lines.append(f"special: {json.dumps(text, ensure_ascii=False)} {token_id}")
    lines.append(f"merges: {len(merges)}")
    for left, right in merges:
        lines.append(f"{left} {right}\t{render_merge(token_bytes[left], token_bytes[right])}")
    write_text_atomically(path, "\n".join(lines) + "\n")


def write_text_atomically(path, content):
    """Write UTF-8 text to a temporary file beside `path`, then rename it over `path`, so an
    interrupted save leaves the old file (or none), never half a file.

    The file gets the permissions the user's umask gives, and errors name `path`, never the
    temporary file. (tinytorch.serialization.atomic_write does the same for binary files; bpe
    imports neither of the other packages, so it has this small copy of its own.)"""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, "No such directory", directory)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    # .tmp-<8 hex>-<name>, as atomic_write names its temporary files; mode 0666 minus umask
    # (tempfile.mkstemp would make the file private to its owner).
    temp_path = os.path.join(directory, f".tmp-{uuid.uuid4().hex[:8]}-{os.path.basename(path)}")
    try:
        handle = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as error:
        raise type(error)(error.errno, error.strerror, path) from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp_path, path)
    except BaseException as error:
        # Once the rename has happened the temporary name is gone: nothing to remove (and a
        # second Ctrl-C landing here must not turn a finished save into an error).
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_path)
        if isinstance(error, OSError) and error.filename in (None, temp_path):
            raise type(error)(error.errno, error.strerror or str(error), path) from None
        raise
    if hasattr(os, "O_DIRECTORY"):        # make the rename itself survive a power cut
        directory_handle = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory_handle)
        finally:
            os.close(directory_handle)


def read_model_file(path):
    """Return (pattern, special_tokens, merges) from a file written by `write_model_file`.

    A file that is not one (or is damaged) raises a ValueError naming the file and the line.
    """
    with open(path, "rb") as file:
        raw = file.read()
    try:
        lines = raw.decode("utf-8").split("\n")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not a bpe tokenizer file (not UTF-8 text: "
                         f"byte offset {err.start})") from None
    if lines[0] != MAGIC:
        raise ValueError(f"{path} is not a bpe tokenizer file "
                         f"(its first line should be {MAGIC!r}, got {lines[0][:40]!r})")
    reader = _LineReader(path, lines)
    pattern = reader.json_value("pattern: ")
    if pattern is not None and not isinstance(pattern, str):
        reader.fail("the pattern must be a JSON string or null")
    special_tokens = {}
    while reader.peek().startswith("special: "):
        text, token_id = reader.special_token()
        special_tokens[text] = token_id
    merges = [reader.merge() for _ in range(reader.count("merges: "))]
    reader.expect_end()
    return pattern, special_tokens, merges


class _LineReader:
    """Walks the file's lines; every complaint names the file and the line just read."""

    def __init__(self, path, lines):
        self.path = path
        self.lines = lines
        self.line_number = 1  # the line most recently read, counting from 1 (the magic line)

    def fail(self, message):
        raise ValueError(f"{self.path}, line {self.line_number}: {message}")

    def peek(self):
        """The next line, without reading it ("" at the end of the file)."""
        return self.lines[self.line_number] if self.line_number < len(self.lines) else ""

    def next_line(self, prefix):
        """Read the next line, which must start with `prefix`; return the rest of it."""
        line = self.peek()
        self.line_number += 1
        if not line.startswith(prefix):
            self.fail(f"expected a line starting with {prefix!r}, got {line[:40]!r}")
        return line[len(prefix):]

    def json_value(self, prefix):
        rest = self.next_line(prefix)
        try:
            return json.loads(rest)
        except json.JSONDecodeError as err:
            self.fail(f"not valid JSON ({err.msg})")

    def special_token(self):
        rest = self.next_line("special: ")
        try:
            text, end = json.JSONDecoder().raw_decode(rest)
            token_id = int(rest[end:])
        except ValueError:
            self.fail('expected a special token line like: special: "<|endoftext|>" 512')
        if not isinstance(text, str) or not text or token_id < 0:
            self.fail("a special token must be a non-empty JSON string with an id >= 0")
        return text, token_id

    def count(self, prefix):
        rest = self.next_line(prefix)
        if not _is_count(rest):
            self.fail(f"expected a count after {prefix!r}, got {rest[:40]!r}")
        return int(rest)

    def merge(self):
        fields = self.next_line("").split("\t", 1)[0].split(" ")
        if len(fields) != 2 or not all(_is_count(field) for field in fields):
            self.fail(f"expected a merge line 'left_id right_id', got {' '.join(fields)[:40]!r}")
        return int(fields[0]), int(fields[1])

    def expect_end(self):
        while self.line_number < len(self.lines):
            if self.next_line("").strip():
                self.fail("unexpected text after the last merge (is the merge count right?)")


def _is_count(text):
    """True for a plain decimal number (str.isdigit alone would accept "²")."""
    return text.isascii() and text.isdigit()
