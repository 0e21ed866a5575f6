"""examples/07_attention.py runs in fast mode and prints what a learner should see."""
import re

import numpy as np


def matrix_after(lines, header_start):
    """The matrix printed on the lines after the first line that starts with header_start."""
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 1:]:
        rows.append([float(x) for x in line.replace("[", " ").replace("]", " ").split()])
        if line.endswith("]]"):
            return np.array(rows)
    raise AssertionError(f"no matrix after {header_start!r}")


def test_07_attention_prints_the_walk_through(run_example, number_after):
    result = run_example("07_attention.py")
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert "tokens: ['the', 'cat', 'sat', 'down']" in lines
    assert "Q = x @ w_q (4, 3):" in lines and "V = x @ w_v (4, 3):" in lines

    # 2. the mask is the upper triangle; softmax rows sum to 1 with zeros above the diagonal
    mask_start = lines.index("causal mask (True = may NOT look: the key comes after the query):")
    assert lines[mask_start + 1:mask_start + 5] == [
        "[[False  True  True  True]",
        " [False False  True  True]",
        " [False False False  True]",
        " [False False False False]]",
    ]
    scores = matrix_after(lines, "scores = Q @ K^T / sqrt(3)")
    masked = matrix_after(lines, "masked scores")
    upper = np.triu(np.ones((4, 4), dtype=bool), k=1)
    assert np.all(np.isneginf(masked[upper])) and np.allclose(masked[~upper], scores[~upper])
    weights = matrix_after(lines, "att_weights = softmax(masked scores)")
    assert weights.shape == (4, 4)
    assert np.all(weights[upper] == 0.0)
    assert np.allclose(weights.sum(axis=1), 1.0, atol=2e-3)   # printed to three decimals
    # softmax of the printed scores gives the printed weights
    exps = np.where(upper, 0.0, np.exp(scores - scores.max(axis=1, keepdims=True)))
    assert np.allclose(exps / exps.sum(axis=1, keepdims=True), weights, atol=2e-3)
    assert "each row sums to 1: [1.0, 1.0, 1.0, 1.0]" in lines
    assert "zeros above the diagonal: True" in lines
    assert "token 0 ('the') can only attend to itself: weight 1.000" in lines
    # the output's row 1 is the weighted average the example works out by hand
    out = matrix_after(lines, "out = att_weights @ V")
    (by_hand,) = [line for line in lines if line.startswith("row 1 by hand: ")]
    assert by_hand.endswith(np.array2string(out[1], precision=3, floatmode="fixed", sign=" "))

    # 3. one SGD step on the trainable head lowers its loss, and the weights stay causal
    assert [line.split()[0] for line in lines if "grad norm" in line] == \
        ["query.weight", "key.weight", "value.weight"]
    assert number_after(lines, "loss after:") < number_after(lines, "loss before:")
    after = matrix_after(lines, "att_weights after one SGD step")
    assert np.all(after[upper] == 0.0) and np.allclose(after.sum(axis=1), 1.0, atol=2e-3)

    # 4. the shapes of multi-head attention, step by step
    shapes = {line[:34].strip(): line[34:].split("   ")[0].strip() for line in lines
              if line[:34].strip() in {"qkv = c_attn(x)", "q.transpose(1, 2)", "q @ k^T / sqrt(D)",
                                       "y.transpose(1, 2).reshape(B, T, C)"}}
    # B, H, T, D = 5, 3, 4, 2 and C = 6: no two axes of the same size
    assert shapes == {"qkv = c_attn(x)": "(5, 4, 18)", "q.transpose(1, 2)": "(5, 3, 4, 2)",
                      "q @ k^T / sqrt(D)": "(5, 3, 4, 4)",
                      "y.transpose(1, 2).reshape(B, T, C)": "(5, 4, 6)"}
    for head in (0, 1, 2):
        head_weights = matrix_after(lines, f"batch 0, head {head}: att_weights")
        assert np.all(head_weights[upper] == 0.0)

    # 5. one fused node against a graph of primitive ops, agreeing to rounding in float64
    assert "q, k, v: (2, 3, 5, 4) (B, H, T, D), float64" in lines
    assert "fused graph:    1 node  (ScaledDotProductAttention)" in lines
    composed = re.fullmatch(r"composed graph: (\d+) nodes \((.*)\)",
                            next(line for line in lines if line.startswith("composed graph:")))
    assert composed and int(composed[1]) >= 8
    assert {"MatMul", "MaskedFill", "Exp", "Sum", "Div"} <= set(composed[2].split(", "))
    assert number_after(lines, "max |out fused - out composed|:") < 1e-12
    for name in "qkv":
        assert number_after(lines, f"max |d{name} fused - d{name} composed|:") < 1e-9
    assert lines[-1] == "gradcheck of the fused kernel (20 elements of each input): True"
