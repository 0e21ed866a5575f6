"""examples/13_classify_spam.py in fast mode: the balanced split, a padded batch whose last
real tokens are where the lengths say, the same logits with and without padding, and an
accuracy that rises with training."""
import ast
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def logits_on(line):
    return [float(x) for x in line.split("[", 1)[1].rstrip("]").split(",")]


def test_13_classify_spam_walks_through_data_padding_head_and_training(shared_data, run_example,
                                                                    section):
    result = run_example("13_classify_spam.py")
    assert result.stderr == ""
    lines = result.stdout.splitlines()

    # 1. the file's counts, the balanced classes and the 70/10/20 split
    data = section(lines, 1)
    assert "5,574 messages: 4,827 ham, 747 spam" in data
    assert "balanced by undersampling ham (seed 123): 747 ham + 747 spam = 1,494" in data
    assert "split 70/10/20: 1,045 train, 149 validation, 300 test" in data

    # 2. a message's ids, and the messages cut to the context
    tokens = section(lines, 2)
    ids = ast.literal_eval(tokens[2].split(":", 1)[1].rsplit("(", 1)[0].strip())
    assert tokens[2].endswith(f"({len(ids)} tokens)")
    assert re.search(r"longer than the context \(128\) and keep their first 128", tokens[3])

    # 3. each row is its text's ids, then the pad id; the last real token is at length - 1
    batch = section(lines, 3)
    match = re.fullmatch(r'pad id 0 = "<\|endoftext\|>"; idx \(3, (\d+)\), lengths (\[.*\])',
                         batch[1])
    width, lengths = int(match[1]), ast.literal_eval(match[2])
    assert max(lengths) == width and len(set(lengths)) == 3
    rows = [ast.literal_eval(line.split(":", 1)[1].strip()) for line in batch
            if line.startswith("  row ")]
    for row, length, line in zip(rows, lengths, [l for l in batch if "last real token at" in l]):
        assert len(row) == width and row[length:] == [0] * (width - length)
        assert f"last real token at position {length - 1}, id {row[length - 1]} " in line

    # 4. the head: shapes, and the same logits alone and padded in the batch
    head = section(lines, 4)
    assert head[1] == ("hidden states (3, {0}, 64) -> rows at lengths - 1: (3, 64) -> score "
                       "(2, 64) -> logits (3, 2)".format(width))
    assert "the head is 128 new parameters on a body of 141,056" in head
    batched = logits_on(next(l for l in head if l.startswith("row 1 in the batch")))
    alone = logits_on(next(l for l in head if l.startswith("row 1 alone")))
    assert max(abs(a - b) for a, b in zip(batched, alone)) <= 1e-6
    padding = logits_on(next(l for l in head if l.startswith("the last column instead")))
    assert max(abs(a - b) for a, b in zip(batched, padding)) > 1e-3

    # 5-7. accuracy before, one line per epoch, accuracy after; two messages classified
    before = float(re.search(r"test accuracy on 100 messages: ([\d.]+)%", "\n".join(
        section(lines, 5)))[1])
    epochs = [line for line in section(lines, 6) if line.startswith("epoch ")]
    assert [line.split(" |")[0] for line in epochs] == ["epoch 0/2", "epoch 1/2", "epoch 2/2"]
    train_losses = [float(re.search(r"train loss ([\d.]+)", line)[1]) for line in epochs]
    assert train_losses[-1] < 0.5 * train_losses[0]
    after_line = next(l for l in section(lines, 7) if l.startswith("test accuracy"))
    assert after_line.startswith(f"test accuracy on 100 messages: {before:.1f}% -> ")
    after = float(after_line.rsplit("-> ", 1)[1].rstrip("%"))
    assert after >= 85.0 and after > before + 30
    verdicts = [line.split("  <- ")[0].split() for line in section(lines, 7) if "  <- " in line]
    assert [label for label, _ in verdicts] == ["spam", "ham"]
    assert all(0.5 <= float(probability) <= 1.0 for _, probability in verdicts)


def test_13_classify_spam_says_so_in_one_line_when_the_data_is_missing(tmp_path, run_example):
    # a copy of the example in a repository folder with no ../shared/data beside it
    (tmp_path / "repo" / "examples").mkdir(parents=True)
    copy = tmp_path / "repo" / "examples" / "13_classify_spam.py"
    shutil.copy(ROOT / "examples" / "13_classify_spam.py", copy)
    result = run_example(copy, check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "shared" in result.stderr
