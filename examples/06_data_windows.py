"""06 - The data pipeline: from a text file to batches of inputs and targets.

A GPT learns to predict the next token at every position at once. So the training data is
nothing but windows of the text, each paired with the same window shifted by one token:

    text  ->  ids (one integer per token)  ->  90% to train on, 10% to test on
          ->  a window of block_size + 1 ids at a random start
          ->  inputs = window[:-1], targets = window[1:]      (targets[t] follows inputs[t])

One window of T inputs holds T training examples: after inputs[:1] comes targets[0], after
inputs[:2] comes targets[1], and so on; causal attention lets the model learn all T at once.

Run it:              python examples/06_data_windows.py
Smaller and faster:  EXAMPLES_FAST=1 python examples/06_data_windows.py
In a debugger:       python -m pdb examples/06_data_windows.py, and stop at a line marked
                     `breakpoint:` below (the README's debugger table lists them).
Then read gpt/data.py (the whole pipeline, in about 70 lines).
"""
import os
from pathlib import Path

import numpy as np

from gpt.data import get_batch, make_tokenizer, read_text, split_ids
from fallback_text import SHAKESPEARE_OPENING

FAST = os.environ.get("EXAMPLES_FAST") == "1"
TEXT_CHARS = 20_000 if FAST else 200_000      # how much of the corpus to use
BLOCK_SIZE = 8                                 # T: tokens of context per window
BATCH_SIZE = 4                                 # B: windows per batch
ROOT = Path(__file__).resolve().parent.parent
SHAKESPEARE = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"


# ---- 1. Text to ids ------------------------------------------------------------------------------
if SHAKESPEARE.is_file():
    text = read_text(SHAKESPEARE)[:TEXT_CHARS]             # read_text: UTF-8, or a clear error
    print(f"== 1. text to ids: the first {len(text):,} characters of {SHAKESPEARE.name} ==")
else:
    text = SHAKESPEARE_OPENING
    print(f"== 1. text to ids: {len(text):,} characters of examples/fallback_text.py "
          f"({SHAKESPEARE} is missing) ==")
tokenizer = make_tokenizer(text, char_level=True)          # one token per distinct character
ids = np.array(tokenizer.encode(text), dtype=np.uint16)    # 16 bits are plenty: half of int32
print(f"{tokenizer}: {''.join(tokenizer.chars)!r}")
print(f"ids {ids.shape} {ids.dtype}: {text[:20]!r} -> {ids[:20].tolist()}")

# ---- 2. The 90/10 split --------------------------------------------------------------------------
print("\n== 2. the split: the first 90% to learn from, the last 10% to test on ==")
train_ids, val_ids = split_ids(ids)
print(f"train_ids {len(train_ids):,} ids, val_ids {len(val_ids):,} ids "
      f"({len(train_ids) / len(ids):.0%} / {len(val_ids) / len(ids):.0%})")
print(f"the cut falls at position {len(train_ids):,}: "
      f"...{tokenizer.decode(train_ids[-25:].tolist())!r} | "
      f"{tokenizer.decode(val_ids[:25].tolist())!r}...")
# One cut, not a random choice of windows: neighbouring windows overlap in all but one
# token, so windows drawn at random for validation would have been seen in training.

# ---- 3. One window, and its targets -------------------------------------------------------------
print(f"\n== 3. one window of block_size + 1 = {BLOCK_SIZE + 1} ids, split in two ==")
start = 0
window = train_ids[start:start + BLOCK_SIZE + 1].astype(np.int64)   # (T + 1,)
# breakpoint: `window`, `len(window)` (block_size + 1), then `n` and `inputs`, `targets`
inputs, targets = window[:-1], window[1:]                           # (T,) each
print(f"window  {window.tolist()}  {tokenizer.decode(window.tolist())!r}")
print(f"inputs  {inputs.tolist()}  {tokenizer.decode(inputs.tolist())!r}")
print(f"targets {targets.tolist()}  {tokenizer.decode(targets.tolist())!r}")
print("column by column, the target is the token that comes next:")
print("  t       " + "".join(f"{t:>5}" for t in range(BLOCK_SIZE)))
print("  inputs  " + "".join(f"{tokenizer.decode([int(i)])!r:>5}" for i in inputs))
print("  targets " + "".join(f"{tokenizer.decode([int(i)])!r:>5}" for i in targets))
print(f"so one window is {BLOCK_SIZE} examples of next-token prediction:")
for t in range(BLOCK_SIZE):
    context = tokenizer.decode(inputs[:t + 1].tolist())
    print(f"  after {context!r:14} comes {tokenizer.decode([int(targets[t])])!r}")

# ---- 4. Sliding the window --------------------------------------------------------------------
print("\n== 4. sliding the window: any start from 0 to len - block_size - 1 ==")
n_windows = len(train_ids) - BLOCK_SIZE
print(f"{len(train_ids):,} ids give {n_windows:,} windows, each overlapping the next in "
      f"{BLOCK_SIZE} ids:")
for start in range(3):
    window = train_ids[start:start + BLOCK_SIZE + 1]
    print(f"  start {start}: {' ' * start}{tokenizer.decode(window.tolist())!r}")

# ---- 5. Random batches --------------------------------------------------------------------------
print(f"\n== 5. a batch: {BATCH_SIZE} windows at random starts, from a seeded generator ==")
generator = np.random.default_rng(0)
# breakpoint: `s` into `gpt/data.py`'s get_batch, `n` 4 times to cut the windows, then `starts`,
#   `windows.shape` (B, T + 1)
x, y = get_batch(train_ids, BLOCK_SIZE, BATCH_SIZE, generator)       # (B, T) each, int64
print(f"x {x.shape} {x.dtype}, y {y.shape} {y.dtype}")
for b in range(BATCH_SIZE):
    # Where in the text does row b come from? Compare it with every window of T ids
    # (sliding_window_view: all of them as one (n, T) array, without copying the text).
    all_windows = np.lib.stride_tricks.sliding_window_view(train_ids, BLOCK_SIZE)  # (n, T)
    starts = np.flatnonzero(np.all(all_windows == x[b], axis=1))
    print(f"  row {b}: x {tokenizer.decode(x[b].tolist())!r:12} y "
          f"{tokenizer.decode(y[b].tolist())!r:12} (the text at {starts[0]:,})")
print(f"every row of y is its row of x shifted by one: {np.array_equal(x[:, 1:], y[:, :-1])}")
x_next, _ = get_batch(train_ids, BLOCK_SIZE, BATCH_SIZE, generator)
print(f"the next call draws other windows: {not np.array_equal(x, x_next)}")
x_again, y_again = get_batch(train_ids, BLOCK_SIZE, BATCH_SIZE, np.random.default_rng(0))
print(f"a new generator with the same seed draws the same batch: "
      f"{np.array_equal(x, x_again) and np.array_equal(y, y_again)}")
val_x, _ = get_batch(val_ids, BLOCK_SIZE, BATCH_SIZE, np.random.default_rng(1))
print(f"validation batches come from val_ids alone: {tokenizer.decode(val_x[0].tolist())!r} ...")

# ---- 6. The same with BPE ------------------------------------------------------------------------
print("\n== 6. the same with BPE tokens: fewer, longer pieces per window ==")
# A byte-level BPE trained on (at most) the first 20,000 characters: 256 bytes, then up to 200
# merges (a short text has fewer pairs worth merging), then <|endoftext|>.
n_merges = min(200, len(text) // 20)
bpe_tokenizer = make_tokenizer(text[:20_000], vocab_size=256 + n_merges + 1)
bpe_ids = np.array(bpe_tokenizer.encode(text), dtype=np.uint16)
print(f"{len(text):,} characters -> {len(ids):,} character ids, or {len(bpe_ids):,} BPE ids "
      f"({len(text) / len(bpe_ids):.2f} characters per token)")
bpe_window = bpe_ids[:BLOCK_SIZE + 1].astype(np.int64)
bpe_inputs, bpe_targets = bpe_window[:-1], bpe_window[1:]
print(f"the first window again, now {BLOCK_SIZE} BPE tokens long, "
      f"{bpe_tokenizer.decode(bpe_window.tolist())!r}:")
print("  bpe_inputs  " + " | ".join(repr(bpe_tokenizer.decode([int(i)])) for i in bpe_inputs))
print("  bpe_targets " + " | ".join(repr(bpe_tokenizer.decode([int(i)])) for i in bpe_targets))
