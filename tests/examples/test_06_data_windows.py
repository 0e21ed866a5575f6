"""examples/06_data_windows.py runs in fast mode and prints what a learner should see."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHAKESPEARE = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"


def after(lines, prefix):
    """The rest of the one line that starts with prefix."""
    (line,) = [line for line in lines if line.startswith(prefix)]
    return line[len(prefix):]


def ids_and_text(rest):
    """'[1, 2]  'ab'' -> ([1, 2], 'ab')."""
    ids, text = re.fullmatch(r"(\[[\d, ]*\])  (.*)", rest).groups()
    return ast.literal_eval(ids), ast.literal_eval(text)


def test_06_data_windows_prints_the_walk_through(run_example):
    result = run_example("06_data_windows.py")
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    from_file = lines[0] == "== 1. text to ids: the first 20,000 characters of " \
                            "tinyshakespeare.txt =="
    assert from_file or lines[0].endswith("characters of examples/fallback_text.py "
                                          f"({SHAKESPEARE} is missing) ==")

    # text -> ids: the position of each character in the sorted vocabulary
    size, chars = re.fullmatch(r"CharTokenizer\(vocab_size=(\d+)\): (.*)", lines[1]).groups()
    vocab = ast.literal_eval(chars)
    assert int(size) == len(vocab) and list(vocab) == sorted(set(vocab))
    n_ids, text, ids = re.fullmatch(r"ids \((\d+),\) uint16: (.*) -> (\[.*\])", lines[2]).groups()
    assert [vocab.index(ch) for ch in ast.literal_eval(text)] == ast.literal_eval(ids)

    # the split: 90% then 10%, contiguous
    n_train, n_val = (int(n.replace(",", "")) for n in re.fullmatch(
        r"train_ids ([\d,]+) ids, val_ids ([\d,]+) ids \(90% / 10%\)",
        next(line for line in lines if line.startswith("train_ids "))).groups())
    assert n_train + n_val == int(n_ids) and n_train == int(n_ids) * 9 // 10

    # one window: inputs drop its last id, targets its first
    window, window_text = ids_and_text(after(lines, "window  "))
    inputs, inputs_text = ids_and_text(after(lines, "inputs  "))
    targets, targets_text = ids_and_text(after(lines, "targets "))
    assert len(window) == 9 and inputs == window[:-1] and targets == window[1:]
    assert inputs[1:] == targets[:-1]
    assert inputs_text == window_text[:-1] and targets_text == window_text[1:]
    assert window_text == ast.literal_eval(text)[:9]             # the window at start 0
    # the table's cells are 5 characters wide, after a 10-character label
    columns = [[ast.literal_eval(rest[i:i + 5].strip()) for i in range(0, len(rest), 5)]
               for rest in (after(lines, "  inputs  "), after(lines, "  targets "))]
    assert columns == [list(inputs_text), list(targets_text)]
    examples = [re.fullmatch(r"  after (.*?) +comes (.*)", line) for line in lines
                if line.startswith("  after ")]
    assert len(examples) == 8
    contexts = [ast.literal_eval(m[1]) for m in examples]
    nexts = [ast.literal_eval(m[2]) for m in examples]
    assert contexts[-1] == inputs_text and "".join(nexts) == targets_text
    assert all(later == earlier + nxt
               for earlier, nxt, later in zip(contexts, nexts, contexts[1:]))

    # sliding: one window per start
    assert f"{n_train:,} ids give {n_train - 8:,} windows, each overlapping the next in " \
           f"8 ids:" in lines
    slides = [ast.literal_eval(after(lines, f"  start {s}: ").strip()) for s in range(3)]
    assert slides[0] == window_text and slides[1][:-1] == slides[0][1:]

    # a seeded batch: y is x shifted, every row is a window of the training text
    assert "x (4, 8) int64, y (4, 8) int64" in lines
    rows = [re.fullmatch(r"  row \d: x (.*?) +y (.*?) +\(the text at ([\d,]+)\)", line)
            for line in lines if line.startswith("  row ")]
    assert len(rows) == 4 and all(rows)
    for row in rows:
        x, y = ast.literal_eval(row[1]), ast.literal_eval(row[2])
        start = int(row[3].replace(",", ""))
        assert len(x) == len(y) == 8 and x[1:] == y[:-1]
        assert 0 <= start < n_train - 8
        if from_file:
            assert SHAKESPEARE.read_text(encoding="utf-8")[start:start + 9] == x + y[-1]
    assert "every row of y is its row of x shifted by one: True" in lines
    assert "the next call draws other windows: True" in lines
    assert "a new generator with the same seed draws the same batch: True" in lines

    # BPE: fewer ids for the same text, and the same shift
    counts = re.fullmatch(r"([\d,]+) characters -> ([\d,]+) character ids, or ([\d,]+) BPE ids "
                          r"\((\d\.\d\d) characters per token\)",
                          next(line for line in lines if "BPE ids" in line))
    n_chars, n_char_ids, n_bpe = (int(counts[i].replace(",", "")) for i in (1, 2, 3))
    assert n_chars == n_char_ids == int(n_ids) and n_bpe < 0.7 * n_chars
    bpe_inputs = [ast.literal_eval(t) for t in after(lines, "  bpe_inputs  ").split(" | ")]
    bpe_targets = [ast.literal_eval(t) for t in after(lines, "  bpe_targets ").split(" | ")]
    assert len(bpe_inputs) == 8 and bpe_inputs[1:] == bpe_targets[:-1]
    bpe_window = ast.literal_eval(re.fullmatch(
        r"the first window again, now 8 BPE tokens long, (.*):",
        next(line for line in lines if line.startswith("the first window again"))).group(1))
    assert "".join(bpe_inputs) + bpe_targets[-1] == bpe_window
    assert bpe_window.startswith(window_text)
