"""metrics.jsonl: a line cut short by a kill is dropped with a warning, a damaged one named."""
import json

import pytest

from gpt.safeguards.metrics import MetricsLog, read_metrics

LINES = [{"iter": 1, "loss": 3.5}, {"iter": 2, "loss": 3.25},
         {"iter": 2, "train_loss_eval": 3.0, "val_loss": 3.125, "val_batches": 2},
         {"iter": 3, "loss": 3.0}]


def write(path, text):
    path.write_bytes(text.encode("utf-8"))
    return path


def jsonl(entries):
    return "".join(json.dumps(entry) + "\n" for entry in entries)


def test_every_line_is_read_back(tmp_path):
    path = write(tmp_path / "metrics.jsonl", jsonl(LINES) + "\n")    # a blank line is nothing
    assert read_metrics(path) == LINES


def test_a_last_line_cut_short_is_dropped_with_a_warning(tmp_path):
    path = write(tmp_path / "metrics.jsonl", jsonl(LINES) + '{"iter": 4, "lo')
    warnings = []
    assert read_metrics(path, warnings.append) == LINES
    assert warnings == [f"{path}, line 5 was cut short (the run was killed while writing "
                        f"it?); dropped it"]
    # complete but for its newline: kept, and no warning
    write(path, jsonl(LINES)[:-1])
    assert read_metrics(path, warnings.append) == LINES and len(warnings) == 1


@pytest.mark.parametrize("damage, problem", [('{"iter": 2, "lo', "not a JSON object"),
                                             ("[1, 2]", "not a metrics entry"),
                                             ('{"loss": 3.0}', "not a metrics entry"),
                                             ('{"iter": "2"}', "not a metrics entry")])
def test_a_damaged_line_before_the_last_is_an_error_naming_it(tmp_path, damage, problem):
    text = jsonl(LINES[:1]) + damage + "\n" + jsonl(LINES[1:])
    path = write(tmp_path / "metrics.jsonl", text)
    with pytest.raises(ValueError, match=f"metrics.jsonl, line 2: {problem}"):
        read_metrics(path)


def test_a_resumed_log_keeps_the_lines_its_checkpoint_counted(tmp_path):
    path = write(tmp_path / "metrics.jsonl", jsonl(LINES) + '{"iter": 4, "lo')
    log = MetricsLog.resume(path, lines=3, iteration=2)
    assert log.entries == LINES[:3] and read_metrics(path) == LINES[:3]
    log.append({"iter": 3, "loss": 2.5})
    log.sync()
    log.close()
    assert read_metrics(path) == [*LINES[:3], {"iter": 3, "loss": 2.5}]
    # a checkpoint from before lines were counted: the lines up to its iteration
    write(path, jsonl(LINES))
    MetricsLog.resume(path, lines=None, iteration=2).close()
    assert read_metrics(path) == LINES[:3]
    # none at all (removed by hand): an empty log
    path.unlink()
    MetricsLog.resume(path, lines=3, iteration=2).close()
    assert read_metrics(path) == []
