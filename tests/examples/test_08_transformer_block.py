"""examples/08_transformer_block.py runs in fast mode: shapes at every step, and the block's
output equals the computation assembled by hand."""
import math
import re

import numpy as np


def vector(text):
    return np.array([float(v) for v in text.strip(" []").split()])


def test_08_transformer_block_shapes_and_the_hand_assembled_block(run_example):
    result = run_example("08_transformer_block.py")
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    # every shape line: a label in 42 columns, the shape, what it means
    shapes = {line[:42].strip(): line[43:57].strip() for line in lines
              if re.fullmatch(r"\(\d+(, \d+)*\)", line[43:57].strip())}
    B, T, C, H, V = 2, 5, 24, 3, 16          # D = 8: no two axes alike
    expected = {
        "x": (B, T, C),
        "mean = x.mean(-1)": (B, T, 1), "variance = x.var(-1)": (B, T, 1),
        "x_hat = (x - mean) / sqrt(variance + eps)": (B, T, C),
        "ln_1 = x_hat * weight + bias": (B, T, C),
        "qkv = ln_1 @ c_attn.weight^T + bias": (B, T, 3 * C),
        "q, k, v split into heads": (B, H, T, C // H),
        "scores = q @ k^T / sqrt(D), masked": (B, H, T, T),
        "att_weights = softmax(scores)": (B, H, T, T),
        "heads = att_weights @ v": (B, H, T, C // H),
        "merged: heads side by side": (B, T, C),
        "attn_out = merged @ c_proj.weight^T + b": (B, T, C),
        "x_mid = x + attn_out": (B, T, C),
        "hidden = ln_2 @ c_fc.weight^T + bias": (B, T, 4 * C),
        "gelu = GELU(hidden)": (B, T, 4 * C),
        "mlp_out = gelu @ c_proj.weight^T + bias": (B, T, C),
        "x_out = x_mid + mlp_out": (B, T, C),
        "wte(idx) + wpe(0..T-1)": (B, T, C),
        "after block 0": (B, T, C), "after block 1": (B, T, C), "ln_f": (B, T, C),
        "logits = ln_f(x) @ wte^T": (B, T, V),
    }
    for label, shape in expected.items():
        assert shapes.get(label) == str(shape), label
    assert "  mlp.c_fc.weight      (96, 24)" in lines and "  attn.c_attn.weight   (72, 24)" in lines

    # the input is far from normalised; layer norm brings each row to mean 0 and std 1
    x_stats = re.fullmatch(r"each token's vector in x: mean (\[.*\]), std (\[.*\]) \(batch 0\)",
                           next(line for line in lines if line.startswith("each token's vector")))
    assert np.all(vector(x_stats[1]) > 1.5) and np.all(vector(x_stats[2]) > 1.0)
    means = vector(next(line for line in lines if line.startswith("rows of x_hat: mean"))
                   .split("mean", 1)[1])
    stds = vector(next(line for line in lines if line.startswith("               std"))
                  .split("std", 1)[1])
    assert len(means) == len(stds) == T
    assert np.all(means == 0.0) and np.allclose(stds, 1.0, atol=1e-4)

    # GPT-2's GELU, printed next to ReLU
    start = next(i for i, line in enumerate(lines) if line.startswith("GELU at "))
    u = vector(lines[start][len("GELU at "):-1])
    gelu = vector(lines[start + 1])
    expected_gelu = 0.5 * u * (1 + np.tanh(math.sqrt(2 / math.pi) * (u + 0.044715 * u ** 3)))
    assert np.allclose(gelu, expected_gelu, atol=1e-4)
    assert np.allclose(vector(lines[start + 2][len("(ReLU:"):-1]), np.maximum(u, 0))

    # every part, the whole block (fused and composed) and the model: the same numbers
    differences = {m[1]: float(m[2]) for m in
                   (re.fullmatch(r"max \|(.*?)\|: +(\S+)", line) for line in lines) if m}
    assert set(differences) == {
        "ln_1 by hand - block.ln_1(x)", "attn_out by hand - block.attn(ln_1)",
        "mlp_out by hand - block.mlp(ln_2)", "x_out by hand - block(x)",
        "x_out by hand - composed block(x)", "these logits - model(idx) logits"}
    assert all(value < 1e-12 for value in differences.values()), differences

    # the graph: two Adds (the residual stream), the fused kernels as single nodes
    start = lines.index("the fused block's graph: the two Adds are the residual stream, "
                        "each with its branch")
    assert lines[start + 1] == "Add (2, 5, 24) float64"
    assert lines[start + 2] == "├── Add (2, 5, 24) float64 #1"
    graph = "\n".join(lines[start:])
    for node in ("ScaledDotProductAttention", "GeluMLP", "LayerNorm", "x (2, 5, 24)"):
        assert node in graph
    nodes = re.fullmatch(r"the composed block's graph has (\d+) nodes, the fused one (\d+)",
                         next(line for line in lines if line.startswith("the composed block")))
    assert int(nodes[1]) > 2 * int(nodes[2])
