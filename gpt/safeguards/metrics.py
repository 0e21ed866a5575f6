"""metrics.jsonl: a training run's log, one JSON object per logged line.

    {"iter": 10, "loss": 3.2104, "lr": 0.0009, "ms_per_iter": 41.2, "tokens_per_sec": 18640.0}
    {"iter": 250, "train_loss_eval": 2.1, "val_loss": 2.2, "val_batches": 20}

Lines are appended as training goes, each flushed at once (so `tail -f` shows them); a kill
can cut the last one short. A checkpoint records how many lines had been logged when it was
saved (after `MetricsLog.sync` made them durable), and a resume keeps exactly those
(`MetricsLog.resume`): the lines logged after the checkpoint are logged again by the resumed
run, so every line appears once however often a run is stopped. A last line cut short is
dropped with a warning; a damaged line anywhere else is an error naming the file and the line.
"""
import json
import os
from pathlib import Path

from tinytorch.serialization import atomic_write


def read_metrics(path, warn=None):
    """The entries of a metrics.jsonl file, one dict per line. A last line cut short (no
    newline at its end, and not valid JSON) is dropped, and `warn` is called with a message
    saying so; any other damaged line is a ValueError naming the file and the line."""
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    unfinished = lines.pop()               # what follows the last newline: b"" normally
    entries = [parse_line(path, number, line)
               for number, line in enumerate(lines, start=1) if line.strip()]
    if unfinished.strip():
        try:
            entries.append(parse_line(path, len(lines) + 1, unfinished))
        except ValueError:
            if warn is not None:
                warn(f"{path}, line {len(lines) + 1} was cut short (the run was killed while "
                     f"writing it?); dropped it")
    return entries


def parse_line(path, number, line):
    """One line's entry: a JSON object with an integer "iter"."""
    try:
        entry = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}, line {number}: not a JSON object ({error})") from None
    if not (isinstance(entry, dict) and isinstance(entry.get("iter"), int)):
        raise ValueError(f"{path}, line {number}: not a metrics entry (a JSON object with an "
                         f"integer \"iter\")")
    return entry


def write_metrics(path, entries):
    """Replace the file with `entries`, atomically."""
    with atomic_write(path) as f:
        f.write("".join(json.dumps(entry) + "\n" for entry in entries).encode("utf-8"))


class MetricsLog:
    """An open metrics.jsonl: `entries` holds every line logged so far, `append` logs one."""

    def __init__(self, path, entries):
        self.path = Path(path)
        self.entries = list(entries)
        self._file = open(self.path, "a", encoding="utf-8")

    @classmethod
    def start(cls, path):
        """A new, empty log (replacing any that a run which saved no progress left)."""
        write_metrics(path, [])
        return cls(path, [])

    @classmethod
    def resume(cls, path, lines, iteration, warn=None):
        """The log of a run resumed from a checkpoint that had logged `lines` lines (or, for a
        checkpoint older than that count, the lines up to its `iteration`): the rest were
        logged after the checkpoint, and will be logged again."""
        path = Path(path)
        entries = read_metrics(path, warn) if path.is_file() else []
        if lines is None:
            kept = [entry for entry in entries if entry["iter"] <= iteration]
        else:
            kept = entries[:lines]
        write_metrics(path, kept)
        return cls(path, kept)

    def append(self, entry):
        try:
            self._file.write(json.dumps(entry) + "\n")
            self._file.flush()
        except OSError as error:
            raise self._about(error) from None
        self.entries.append(entry)

    def sync(self):
        """Make every line logged so far durable (before a checkpoint counts them)."""
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as error:
            raise self._about(error) from None

    def _about(self, error):
        """`error` (a full disk, say) naming this file: a write error names none."""
        return type(error)(error.errno, error.strerror or str(error), str(self.path))

    def close(self):
        self._file.close()
