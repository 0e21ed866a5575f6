"""examples/09_sampling.py runs in fast mode: every setting's distribution is the right one,
and seeded draws follow it."""
import math
import re

import numpy as np

N_DRAWS = 2_000
SETTINGS = ["greedy", "T=0.5", "T=1", "T=2", "top-k=3", "top-p=0.9", "T=0.8,k=5,p=0.9"]


def table_after(lines, header_start, n_rows=10, dropped=None):
    """{setting: column of values} of the table after the line starting with header_start;
    '-' (dropped) reads as 0, and if `dropped` is a dict, its entry for each setting becomes
    the boolean column of the '-' cells."""
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start)) + 1
    assert lines[start].split() == ["token"] + SETTINGS
    rows = [re.fullmatch(r"('.*?') +(.*)", line)[2].split() for line in
            lines[start + 1:start + 1 + n_rows]]
    values = np.array([[0.0 if cell == "-" else float(cell) for cell in row] for row in rows])
    if dropped is not None:
        dashes = np.array([[cell == "-" for cell in row] for row in rows])
        dropped.update({name: dashes[:, j] for j, name in enumerate(SETTINGS)})
    return {name: values[:, j] for j, name in enumerate(SETTINGS)}


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def test_09_sampling_shows_every_setting_on_one_distribution(run_example):
    result = run_example("09_sampling.py")
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    # 1. logits -> e^logit -> probabilities
    start = lines.index("token     logit  e^logit      p")
    rows = [re.fullmatch(r"'(.*?)' +(-?\d\.\d\d) +(\d+\.\d{3}) +(\d\.\d{3})", line)
            for line in lines[start + 1:start + 11]]
    tokens = [row[1] for row in rows]
    logits = np.array([float(row[2]) for row in rows])
    assert np.allclose([float(row[3]) for row in rows], np.exp(logits), atol=1e-3)
    probs = softmax(logits)
    assert np.allclose([float(row[4]) for row in rows], probs, atol=6e-4)
    assert "the probabilities sum to 1.000000" in lines

    # 2. the table: each column is the distribution its setting samples from
    dropped = {}
    table = table_after(lines, "== 2. how each setting reshapes the same distribution ==",
                        dropped=dropped)
    sums = lines[lines.index("('-': dropped by a filter, probability exactly 0)") - 1].split()
    assert sums == ["sum"] + ["1.000"] * len(SETTINGS)
    assert np.array_equal(table["greedy"], np.eye(10)[np.argmax(logits)])
    for temperature in (0.5, 1, 2):
        assert np.allclose(table[f"T={temperature}"], softmax(logits / temperature), atol=6e-4)
    assert np.all(np.diff(table["T=2"]) <= 0)              # sorted logits stay in order
    assert table["T=0.5"][0] > table["T=1"][0] > table["T=2"][0]   # sharper, then flatter
    top3 = np.zeros(10)
    top3[:3] = probs[:3] / probs[:3].sum()
    assert np.allclose(table["top-k=3"], top3, atol=6e-4)
    # top-p: the fewest most likely tokens holding at least 0.9
    n_kept = int(np.argmax(np.cumsum(probs) >= 0.9)) + 1
    nucleus = np.zeros(10)
    nucleus[:n_kept] = probs[:n_kept] / probs[:n_kept].sum()
    assert n_kept == 5 and np.allclose(table["top-p=0.9"], nucleus, atol=6e-4)
    # all three: temperature 0.8, then the top 5, then top-p 0.9 of what is left
    scaled = softmax(logits / 0.8)
    top5 = scaled[:5] / scaled[:5].sum()
    n_combined = int(np.argmax(np.cumsum(top5) >= 0.9)) + 1
    assert np.count_nonzero(table["T=0.8,k=5,p=0.9"]) == n_combined == 4
    # the survivors, as listed; a temperature alone drops nothing
    for name in SETTINGS:
        (line,) = [line for line in lines
                   if line.startswith(f"  {name} ") and "can pick" in line]
        kept = line.split(":", 1)[1].split()
        assert kept == [tokens[i].strip() for i in np.flatnonzero(~dropped[name])]
    assert not dropped["T=0.5"].any() and not dropped["T=2"].any()
    assert dropped["greedy"].sum() == 9 and dropped["top-k=3"].sum() == 7
    # entropy: 0 for greedy, growing with the temperature
    bits = {m[1]: float(m[2]) for m in (re.fullmatch(r"  (\S+) +(\d\.\d{3}) bits ~ \d+\.\d\d "
                                                     r"tokens", line) for line in lines) if m}
    assert bits["greedy"] == 0.0 and bits["T=0.5"] < bits["T=1"] < bits["T=2"] < math.log2(10)
    assert abs(bits["T=1"] + sum(p * math.log2(p) for p in probs)) < 1e-3

    # 3. top-p step by step: kept while the tokens above hold less than 0.9
    steps = [re.fullmatch(r"  '.*?' +p (\d\.\d{3})   held by the tokens above: (\d\.\d{3})   "
                          r"(keep|drop)", line)
             for line in lines if "held by the tokens above" in line]
    assert len(steps) == 10 and all(steps)
    assert [step[3] for step in steps] == ["keep"] * 5 + ["drop"] * 5
    assert all((float(step[2]) < 0.9) == (step[3] == "keep") for step in steps)

    # 4. seeded draws: frequencies follow the table, dropped tokens never appear
    assert f"== 4. {N_DRAWS:,} draws per setting with next_tokens, seed 0 ==" in lines
    frequencies = table_after(lines, "how often each token was drawn")
    for name in SETTINGS:
        p = table[name]
        tolerance = 4 * np.sqrt(p * (1 - p) / N_DRAWS) + 1e-3
        assert np.all(np.abs(frequencies[name] - p) <= tolerance), name
        assert np.all(frequencies[name][dropped[name]] == 0)
        assert abs(frequencies[name].sum() - 1.0) < 6e-3
    firsts = {m[1]: m[2].split() for m in (re.fullmatch(r"  (\S+) +the first ten draws: (.*)",
                                                        line) for line in lines) if m}
    assert firsts["greedy"] == ["mat"] * 10
    assert set(firsts["top-k=3"]) <= {"mat", "floor", "sofa"} and len(firsts["T=2"]) == 10
    assert lines[-3:] == ["no setting ever drew a token it dropped: True",
                          "the same seed draws the same tokens: True",
                          "another seed draws others: True"]
