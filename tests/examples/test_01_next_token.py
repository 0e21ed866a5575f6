"""examples/01_next_token.py runs in fast mode and prints what a learner should see."""
import ast
import math
import re


def table_after(lines, header_start):
    """{(row, column): value} of the table whose column names follow the line that starts
    with header_start; the names are as printed ("' '", "\\n", "a")."""
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start)) + 1
    if not lines[start].startswith("      "):
        start += 1
    columns = lines[start].replace("' '", "space").replace("row total", "").split()
    table = {}
    for line in lines[start + 1:]:
        cells = line.replace("' '", "space").split()
        if not cells or cells[0] not in columns:
            break
        for column, value in zip(columns, cells[1:]):
            table[cells[0], column] = float(value)
        if len(cells) > len(columns) + 1:                    # the row total
            table[cells[0], "total"] = float(cells[-1])
    return table


def test_01_next_token_prints_the_walk_through(run_example):
    result = run_example("01_next_token.py")
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].startswith("== 1. the text: ")

    # the ids are the positions of the characters in the sorted vocabulary
    vocab_line = next(line for line in lines if line.startswith("vocabulary: "))
    size, chars = re.fullmatch(r"vocabulary: (\d+) characters: (.*)", vocab_line).groups()
    vocab = ast.literal_eval(chars)
    V = int(size)
    assert len(vocab) == V and list(vocab) == sorted(set(vocab))
    text, ids = next(line for line in lines if line.startswith("'First Citizen")).split(" -> ")
    assert [vocab.index(ch) for ch in ast.literal_eval(text)] == ast.literal_eval(ids)

    # probabilities are the counts plus one, divided by the row total plus V
    counts = table_after(lines, "counts (")
    probs = table_after(lines, "probs (")
    assert {row for row, _ in counts} == {"space", "a", "e", "h", "t", "\\n"}
    for (row, column), p in probs.items():
        expected = (counts[row, column] + 1) / (counts[row, "total"] + V)
        assert abs(p - expected) < 6e-4, (row, column)
    assert counts["t", "h"] > counts["t", "a"]       # "th" is common in English
    assert "probs ({0}, {0}); every row sums to 1: min 1.000000000000, max 1.000000000000" \
        .format(V) in lines

    # the bar chart after 't' lists the most likely characters first, 'h' among them
    start = lines.index("after 't', the most likely next characters (one # per 2%):")
    bars = [line.split() for line in lines[start + 1:start + 7]]
    values = [float(bar[-2]) for bar in bars]
    assert values == sorted(values, reverse=True)
    assert [len(bar[-1]) for bar in bars] == [round(v * 50) for v in values]
    assert bars[0][0] == "h" and abs(values[0] - probs["t", "h"]) < 6e-4

    # the loss: one pair worked out, and the bigram beats knowing nothing
    pair = re.fullmatch(r"one pair: -ln p\('h' \| 't'\) = -ln (\d\.\d+) = (\d\.\d+)",
                        next(line for line in lines if line.startswith("one pair:")))
    assert abs(-math.log(float(pair[1])) - float(pair[2])) < 1e-3
    assert f"knowing nothing (every character 1/{V}): ln {V} = {math.log(V):.4f}" in lines
    train = float(next(line for line in lines if "counted text:" in line).split()[-1])
    held_out = float(next(line for line in lines if "held-out 10%:" in line).split()[-1])
    assert 2.0 < train < 3.0 and 2.0 < held_out < 3.0 and held_out < math.log(V) - 0.5
    # cross_entropy with ln p as logits is the same loss
    ce = re.fullmatch(r"F\.cross_entropy\(ln probs\[rows\], targets\): (\d\.\d+) "
                      r"\(\|difference\| (\S+)\)",
                      next(line for line in lines if line.startswith("F.cross_entropy")))
    assert float(ce[1]) == held_out and float(ce[2]) < 1e-12

    # the loop: each step appends the character it drew
    steps = [re.fullmatch(r"step (\d): after +(.+?) drew +(.+?) \(p = (\d\.\d+)\); "
                          r"text so far (.*)", line) for line in lines if line.startswith("step ")]
    assert len(steps) == 6 and all(steps)
    so_far = ["\n"] + [ast.literal_eval(step[5]) for step in steps]
    for before, after in zip(so_far, so_far[1:]):
        assert after[:-1] == before and len(after) == len(before) + 1
    assert all(0.0 < float(step[4]) <= 1.0 for step in steps)

    start = lines.index("120 characters drawn with seed 0:")
    end = lines.index("the same seed gives the same text: True")
    sample = "\n".join(line[4:] for line in lines[start + 1:end])
    assert all(line.startswith("  | ") for line in lines[start + 1:end])
    assert len(sample) == 120 and sample.startswith(so_far[-1][1:])
    assert set(sample) <= set(vocab)

    # greedy depends on the last character only: a character always leads to the same next one
    greedy = ast.literal_eval(lines[-1].split(": ", 1)[1])
    assert lines[-1].startswith("greedy (always the most likely) from 't': ")
    assert len(greedy) == 41
    follows = {}
    for ch, nxt in zip(greedy, greedy[1:]):
        assert follows.setdefault(ch, nxt) == nxt
    assert len(set(greedy)) < 10          # so it soon cycles through a few characters
