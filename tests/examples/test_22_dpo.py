"""examples/22_dpo.py in fast mode: the pairs and their counts, one pair cut from the left,
its two rows, the four log-probabilities (equal at the start), log 2 and a slope of -1/2, the
loss's table, training margins that grow, and the margin as beta times the moves."""
import ast
import math
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = "examples/22_dpo.py"
COUNTS = re.compile(r"(\w+): (\d+) pairs \((\d+) with the prompt cut from the left to fit the "
                    r"context of 128 tokens; dropped: (.*)\)")


def test_22_dpo_walks_a_pair_through_the_loss_and_moves_the_margins(shared_data, run_example,
                                                                     section):
    result = run_example("22_dpo.py")
    assert result.stderr == ""
    lines = result.stdout.splitlines()

    def part(number):
        return [line for line in section(lines, number) if line]     # no blank lines

    # 1. every record of the split is kept (most of them cut) or dropped with a reason
    assert lines[0] == ("== 1. the data: instruction-data-with-preference.json, split 85/5/10 "
                        "with seed 123 ==")
    totals = {}
    for line in part(1)[1:]:
        name, kept, cut, dropped = COUNTS.fullmatch(line).groups()
        reasons = [int(n) for n in re.findall(r"(\d+) whose", dropped)]
        assert dropped == "none" or reasons
        assert int(cut) < int(kept)
        totals[name] = int(kept) + sum(reasons)
    assert totals == {"train": 935, "validation": 55, "test": 110}

    # 2. one pair: its prompt cut from the left, ending with the header and the chosen answer
    pair = part(2)
    fields = {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in pair[1:5]}
    chosen = ast.literal_eval(fields["chosen"])
    whole, cut, kept = (int(n) for n in re.match(
        r"prompt: (\d+) tokens; .* its first (\d+) are cut and (\d+) kept", pair[5]).groups())
    assert whole == cut + kept and cut > 0
    text = [line[4:] for line in pair if line.startswith("  | ")]
    assert text[0].startswith("...") and text[-2] == "### Response:"
    assert text[-1] == chosen + "<|endoftext|>"
    chosen_tokens = int(re.fullmatch(r"chosen: +(\d+) tokens .*", pair[-2])[1])
    rejected_tokens = int(re.fullmatch(r"rejected: +(\d+) tokens", pair[-1])[1])
    assert kept + max(chosen_tokens, rejected_tokens) == 128       # cut just enough to fit

    # 3. two rows, the prompt's targets and the padding's -100
    rows = part(3)
    T = kept + max(chosen_tokens, rejected_tokens) - 1
    assert rows[1] == f"inputs (2, {T}), targets (2, {T})"
    for line, n in zip(rows[2:4], (chosen_tokens, rejected_tokens)):
        first, last, counted, prompt, padding = (int(x) for x in re.search(
            r"targets (\d+)-(\d+) count \((\d+) tokens\); the prompt's (\d+) targets and the "
            r"padding's (\d+) are -100", line).groups())
        assert (first, counted, prompt) == (kept - 1, n, kept - 1)
        assert last == first + n - 1 and prompt + counted + padding == T

    # 4. policy = reference: margin 0, loss log 2 (both twins), slope -1/2, gradients -+beta/2
    four = part(4)
    values = [float(x) for x in re.findall(r"= +(-?\d+\.\d+)", "\n".join(four[1:3]))]
    assert values[0] == values[1] and values[2] == values[3] and values[0] != values[2]
    assert "chosen 0.0000, rejected 0.0000, margin 0.0000" in four[3]
    assert four[4] == (f"loss = -log sigmoid(margin) = {math.log(2):.6f}; log 2 = "
                       f"{math.log(2):.6f}; composed: {math.log(2):.6f}")
    assert four[5] == "d loss / d margin = -sigmoid(-margin) = -0.5000"
    assert four[6].startswith("d loss / d log pi(chosen) = beta * that = -0.0500, "
                              "d loss / d log pi(rejected) = 0.0500")
    table = [line.split() for line in four[9:14]]
    for margin, loss, slope in ((float(a), float(b), float(c)) for a, b, c in table):
        assert loss == round(math.log1p(math.exp(-margin)), 4)
        assert slope == round(-1.0 / (1.0 + math.exp(margin)), 4)

    # 5. the training margins grow from 0 to every pair ranked right
    training = part(5)
    assert training[0] == ("== 5. training: 15 steps of DPO on 6 pairs (one batch of 12 rows), "
                           "AdamW lr 0.0003, beta 0.1 ==")
    steps = [re.fullmatch(r"step +(\d+): training margin +(-?\d+\.\d+) \(acc (\d\.\d\d)\), "
                          r"held-out margin +(-?\d+\.\d+) \(acc (\d\.\d\d)\)", line)
             for line in training if line.startswith("step ")]
    margins = [float(m[2]) for m in steps]
    assert [int(m[1]) for m in steps] == [0, 5, 10, 15]
    assert margins[0] == 0.0 and all(b > a for a, b in zip(margins, margins[1:]))
    assert steps[0][3] == "0.00" and steps[-1][3] == "1.00" and margins[-1] > 1.0
    assert float(steps[0][4]) == 0.0

    # 6. the final training margin is beta times the difference of the moves
    moved = part(6)
    chosen_move, rejected_move = (float(x) for x in re.search(
        r"log pi\(chosen\) moved ([-+]\d+\.\d+) nats on average, log pi\(rejected\) "
        r"([-+]\d+\.\d+)", moved[1]).groups())
    assert rejected_move < chosen_move
    margin = float(moved[2].rsplit("= ", 1)[1])
    assert margin == margins[-1]
    assert abs(0.1 * (chosen_move - rejected_move) - margin) < 0.01
    assert any(line.startswith("  before ") for line in moved)
    assert any(line.startswith("  after ") for line in moved)


def test_22_dpo_says_so_when_the_data_is_missing(tmp_path, run_example):
    copy = tmp_path / "repo" / "examples" / "22_dpo.py"
    copy.parent.mkdir(parents=True)
    shutil.copy(ROOT / EXAMPLE, copy)
    result = run_example(copy, check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "shared" in result.stderr
