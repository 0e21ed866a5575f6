"""21 - int8 weights: a quarter of the memory, almost the same model.

A float32 weight takes 4 bytes. Stored as an 8-bit integer with one float32 scale per row
(symmetric absmax), it takes 1:

    scale = max |row| / 127        q = round(row / scale), in [-127, 127]        row ~= q * scale

The largest weight of each row is coded exactly, every other one within half a step (scale /
2). One scale per row keeps a row of small weights from being crushed by another row's large
ones. gpt.quantize.quantize_int8 does this to every weight matrix of a model (the embedding,
which is also the head when tied, included) and computes with them by widening a block of rows
back to float32 at a time, inside the matrix product.

What it costs: NumPy has no int8 matrix product, so every product pays for the widening, and
the int8 model is slower than the float32 one here. The saving is memory at rest (the
checkpoint, the weights in RAM): what lets a large model fit at all. GPUs and CPUs with int8
instructions multiply the codes directly and are faster too; NumPy is not.

Run it:              python examples/21_int8.py
Smaller and faster:  EXAMPLES_FAST=1 python examples/21_int8.py
In a debugger:       python -m pdb examples/21_int8.py, and stop at a line marked
                     `breakpoint:` below (the README's debugger table lists them).
Then read gpt/quantize.py (quantize_rows, int8_matmul, Int8Linear, the file layout).
"""
import os
import sys
import time
from pathlib import Path

import numpy as np

import tinytorch as tt
from gpt import GPT
from gpt.data import split_ids
from gpt.quantize import (dequantize_rows, int8_layers, quantize_int8, quantize_rows,
                          weight_bytes)
from gpt.tokenizers import load_tokenizer

FAST = os.environ.get("EXAMPLES_FAST") == "1"
DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
ROW_VALUES = 6                           # weights of one row shown; every size here differs
WINDOWS = 24 if FAST else 160            # held-out windows per model for the loss
WINDOW = 65                              # tokens per window: 64 predicted from the ones before
NEW_TOKENS = 40 if FAST else 100         # section 5's timing
CHECKPOINTS = ("gpt2-tiny", "llama-tiny")

if not all((DATA / name).is_dir() for name in CHECKPOINTS):
    sys.exit(f"this walk-through needs gpt2-tiny and llama-tiny from the reference data, at "
             f"{DATA}")
models = {name: GPT.from_pretrained(DATA / name).eval() for name in CHECKPOINTS}
int8_models = {name: quantize_int8(model) for name, model in models.items()}
np.set_printoptions(precision=4, suppress=True, linewidth=110)

# ---- 1. One row, by hand --------------------------------------------------------------------
print("== 1. one row of gpt2-tiny's first MLP matrix, quantised ==")
weight = models["gpt2-tiny"].transformer.h[0].mlp.c_fc.weight.data           # (F, C)
row = weight[:1]                                                                # (1, C)
# breakpoint: `row.shape` (1, C), `np.abs(row).max()`, then `n` and `q[0, :6]` (int8 codes),
#   `scale` (max |row| / 127), `dequantize_rows(q, scale)[0, :6]` next to `row[0, :6]`
q, scale = quantize_rows(row)
restored = dequantize_rows(q, scale)
print(f"weights  {row[0, :ROW_VALUES]}  ... ({row.shape[1]} in the row, max |w| "
      f"{np.abs(row).max():.4f})")
print(f"scale    {scale[0]:.6f} = max |w| / 127")
print(f"codes    {q[0, :ROW_VALUES]}  (int8; the largest weight is +-127)")
print(f"restored {restored[0, :ROW_VALUES]}")
print(f"largest error {np.abs(restored - row).max():.6f} <= scale / 2 = {scale[0] / 2:.6f}: "
      f"{bool(np.abs(restored - row).max() <= scale[0] / 2 * (1 + 1e-6))}")

# ---- 2. The whole model: memory ---------------------------------------------------------------
print("\n== 2. every weight matrix int8: the bytes the weights take ==")
print(f"{'model':10} {'float32':>10} {'int8':>10} {'ratio':>6}  int8 layers")
for name, model in models.items():
    quantized = int8_models[name]
    layers = int8_layers(quantized)                   # {name: Int8Linear or Int8Embedding}
    print(f"{name:10} {weight_bytes(model):10,} {weight_bytes(quantized):10,} "
          f"{weight_bytes(model) / weight_bytes(quantized):6.2f}  {len(layers)}")
print("not 4x: biases, norms, the position table and the scales stay float32")

# ---- 3. The logits ---------------------------------------------------------------------------
print("\n== 3. the logits of one prompt, float32 vs int8 ==")
for name, model in models.items():
    tokenizer = load_tokenizer(DATA / name)
    ids = np.array([tokenizer.encode("ROMEO:\nBut, soft! what light")])
    with tt.no_grad():
        reference, _ = model(ids)
        approximate, _ = int8_models[name](ids)
    deviation = np.abs(approximate.data - reference.data)
    same_top = (approximate.data.argmax(-1) == reference.data.argmax(-1)).mean()
    print(f"{name:10} largest logit deviation {deviation.max():.4f} (logits span "
          f"{np.ptp(reference.data):.1f}); the same top token at {same_top:.0%} of "
          f"{ids.shape[1]} positions")

# ---- 4. The loss on held-out Shakespeare ----------------------------------------------------
print(f"\n== 4. loss on held-out Shakespeare (the last 10%), {WINDOWS} windows of {WINDOW - 1} "
      f"predictions ==")
text = (DATA / "tinyshakespeare.txt").read_text(encoding="utf-8")
for name, model in models.items():
    tokenizer = load_tokenizer(DATA / name)
    _, held_out = split_ids(np.array(tokenizer.encode_ordinary(text)))
    starts = np.linspace(0, len(held_out) - WINDOW, WINDOWS).astype(int)
    windows = np.stack([held_out[s:s + WINDOW] for s in starts])            # (WINDOWS, WINDOW)
    with tt.no_grad():
        _, loss = model(windows[:, :-1], windows[:, 1:])
        _, int8_loss = int8_models[name](windows[:, :-1], windows[:, 1:])
    change = int8_loss.item() - loss.item()
    print(f"{name:10} float32 {loss.item():.4f}  int8 {int8_loss.item():.4f}  change "
          f"{change:+.4f} nats (target: below 0.01)")

# ---- 5. The speed ---------------------------------------------------------------------------
print(f"\n== 5. {NEW_TOKENS} greedy tokens, float32 vs int8 (printed, it depends on the "
      f"machine) ==")
prompt = np.array([[0]])
seconds = {}
for label, model in (("float32", models["gpt2-tiny"]), ("int8", int8_models["gpt2-tiny"])):
    start = time.perf_counter()
    out = model.generate(prompt, NEW_TOKENS, temperature=0)
    seconds[label] = time.perf_counter() - start
    print(f"{label:8} {NEW_TOKENS / seconds[label]:8.1f} tokens/s")
print(f"int8 / float32 time: {seconds['int8'] / seconds['float32']:.2f} (NumPy widens the codes "
      f"to float32 in every product: memory is saved, time is not)")
