"""01 - Next-token prediction: a bigram model made of counts, and the autoregressive loop.

A language model answers one question: given the text so far, how likely is each possible
next token? The simplest possible answer looks only at the last character. Count how often
each character follows each other character in a text, and turn every row of counts into
probabilities:

    counts[a, b] = how often character b follows character a        (V, V)
    probs[a, b]  = counts[a, b] / sum over b' of counts[a, b']       each row sums to 1

How good is it? The loss is the mean of -ln probs[a, b] over the pairs (a, b) of a text: the
average surprise at the true next character. A model that knows nothing gives every
character 1/V, so its loss is ln V.

To generate text, loop: take the row of the last character, draw the next character from it,
append it, repeat. A GPT runs exactly this loop; only its row of probabilities comes from a
network that reads the whole context instead of a table indexed by the last character.

Run it:              python examples/01_next_token.py
Smaller and faster:  EXAMPLES_FAST=1 python examples/01_next_token.py
In a debugger:       python -m pdb examples/01_next_token.py, and stop at a line marked
                     `breakpoint:` below (the README's debugger table lists them).
Then read gpt/generate.py (the same loop around a GPT) and gpt/sampling.py (drawing a token).
"""
import os
from pathlib import Path

import numpy as np

import tinytorch as tt
import tinytorch.functional as F
from gpt.bigram import bigram_counts
from gpt.data import split_ids
from gpt.tokenizers import CharTokenizer
from fallback_text import SHAKESPEARE_OPENING

FAST = os.environ.get("EXAMPLES_FAST") == "1"
TEXT_CHARS = 100_000 if FAST else 1_000_000    # how much of the corpus to count
GENERATE_CHARS = 120 if FAST else 300
SHOW = [" ", "a", "e", "h", "t", "\n"]          # the rows and columns of the table printed
ROOT = Path(__file__).resolve().parent.parent
SHAKESPEARE = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"


def name(ch):
    """A character as a learner can read it in a table: '\\n' and ' ' spelled out."""
    return {"\n": "\\n", " ": "' '"}.get(ch, ch)


# ---- 1. The text, one id per character ----------------------------------------------------------
if SHAKESPEARE.is_file():
    text = SHAKESPEARE.read_text(encoding="utf-8")[:TEXT_CHARS]
    print(f"== 1. the text: the first {len(text):,} characters of {SHAKESPEARE.name} ==")
else:
    text = SHAKESPEARE_OPENING
    print(f"== 1. the text: {len(text):,} characters of examples/fallback_text.py "
          f"({SHAKESPEARE} is missing) ==")
tokenizer = CharTokenizer.from_text(text)          # the vocabulary: every distinct character
V = tokenizer.vocab_size
ids = np.array(tokenizer.encode(text), dtype=np.int64)
train_ids, val_ids = split_ids(ids)                # count on 90%, measure the loss on the rest
print(f"vocabulary: {V} characters: {''.join(tokenizer.chars)!r}")
print(f"{text[:24]!r} -> {ids[:24].tolist()}")
print(f"counted on {len(train_ids):,} characters, measured on {len(val_ids):,}")

# ---- 2. Counting which character follows which ------------------------------------------------
print("\n== 2. counting pairs: counts[a, b] = how often b follows a ==")
print("the first pairs of the text: " +
      "  ".join(f"{text[i]!r}->{text[i + 1]!r}" for i in range(5)))
# Every position i gives one pair (ids[i], ids[i + 1]), and each adds 1, also when the same
# pair occurs many times: step into gpt/bigram.py to see how.
counts = bigram_counts(train_ids, V)                              # (V, V) int64
print(f"counts {counts.shape}, {counts.sum():,} pairs in all; a corner of the table "
      f"(row: this character, column: the next one):")
show_ids = [tokenizer.ids[ch] for ch in SHOW if ch in tokenizer.ids]
print("      " + "".join(f"{name(tokenizer.chars[b]):>7}" for b in show_ids) + "  row total")
for a in show_ids:
    print(f"{name(tokenizer.chars[a]):>6}" + "".join(f"{counts[a, b]:7d}" for b in show_ids)
          + f"  {counts[a].sum():9d}")
pair_order = np.argsort(-counts, axis=None, kind="stable")[:5]     # flat indices, largest first
print("the most frequent pairs: " + ", ".join(
    f"{tokenizer.chars[i // V]!r}->{tokenizer.chars[i % V]!r} {counts.flat[i]:,}"
    for i in pair_order))

# ---- 3. From counts to probabilities ----------------------------------------------------------
print("\n== 3. probabilities: each row of counts divided by its sum ==")
# Adding 1 to every count ("add-one smoothing") keeps pairs never seen in the counted text
# possible: with a probability of 0 their -ln p, and so the loss, would be infinite.
smoothed = counts + 1                                              # (V, V)
# breakpoint: `counts.shape` (V, V), `counts[tokenizer.ids["t"]]` (how often each character
#   follows 't'), then `n` and `probs.sum(axis=1)` (every row sums to 1)
probs = smoothed / smoothed.sum(axis=1, keepdims=True)             # (V, V) float64
row_sums = probs.sum(axis=1)
print(f"probs[a, b] = (counts[a, b] + 1) / (row total + {V}); e.g. p('h' | 't') = "
      f"({counts[tokenizer.ids['t'], tokenizer.ids['h']]} + 1) / "
      f"({counts[tokenizer.ids['t']].sum()} + {V}) = "
      f"{probs[tokenizer.ids['t'], tokenizer.ids['h']]:.4f}")
print(f"probs {probs.shape}; every row sums to 1: min {row_sums.min():.12f}, "
      f"max {row_sums.max():.12f}")
print("      " + "".join(f"{name(tokenizer.chars[b]):>7}" for b in show_ids))
for a in show_ids:
    print(f"{name(tokenizer.chars[a]):>6}" + "".join(f"{probs[a, b]:7.3f}" for b in show_ids))
t_row = probs[tokenizer.ids["t"]]
print("after 't', the most likely next characters (one # per 2%):")
for b in np.argsort(-t_row, kind="stable")[:6]:
    print(f"  {name(tokenizer.chars[b]):>4} {t_row[b]:.4f} {'#' * int(round(t_row[b] * 50))}")

# ---- 4. The loss: how surprised the model is by the true next character ------------------------
print("\n== 4. the loss: the mean of -ln p(next | this) over every pair of a text ==")
a, b = tokenizer.ids["t"], tokenizer.ids["h"]
print(f"one pair: -ln p('h' | 't') = -ln {probs[a, b]:.4f} = {-np.log(probs[a, b]):.4f}")
train_loss = -np.mean(np.log(probs[train_ids[:-1], train_ids[1:]]))
val_loss = -np.mean(np.log(probs[val_ids[:-1], val_ids[1:]]))
print(f"knowing nothing (every character 1/{V}): ln {V} = {np.log(V):.4f}")
print(f"bigram loss on the counted text:         {train_loss:.4f}")
print(f"bigram loss on the held-out 10%:         {val_loss:.4f}")
# ln p are logits: softmax(ln p) = p / sum(p) = p. So the cross-entropy a GPT is trained
# with, fed the rows of ln(probs) as logits, is exactly the loss above.
logits = tt.tensor(np.log(probs[val_ids[:-1]]))                    # (N, V) float64
cross_entropy = F.cross_entropy(logits, val_ids[1:]).item()
print(f"F.cross_entropy(ln probs[rows], targets): {cross_entropy:.4f} "
      f"(|difference| {abs(cross_entropy - val_loss):.1e})")

# ---- 5. The autoregressive loop ---------------------------------------------------------------
print("\n== 5. generating: draw the next character, append it, repeat ==")
generator = np.random.default_rng(0)           # the same seed gives the same text
context = [tokenizer.ids["\n"]]                # start after a line break, as a speech does
for step in range(GENERATE_CHARS):
    row = probs[context[-1]]                   # (V,) the distribution of the next character
    next_id = int(generator.choice(V, p=row))
    context.append(next_id)
    if step < 6:
        print(f"step {step}: after {name(tokenizer.chars[context[-2]]):>4} drew "
              f"{name(tokenizer.chars[next_id]):>4} (p = {row[next_id]:.4f}); "
              f"text so far {tokenizer.decode(context)!r}")
sample = tokenizer.decode(context[1:])
print(f"{GENERATE_CHARS} characters drawn with seed 0:")
for line in sample.split("\n"):
    print(f"  | {line}")

generator = np.random.default_rng(0)
again = [tokenizer.ids["\n"]]
for step in range(GENERATE_CHARS):
    again.append(int(generator.choice(V, p=probs[again[-1]])))
print(f"the same seed gives the same text: {again == context}")

# Always taking the most likely character instead of drawing one soon repeats itself: the
# row depends on the last character only, so a character seen twice starts the same cycle.
greedy = [tokenizer.ids["t"]]
for step in range(40):
    greedy.append(int(np.argmax(probs[greedy[-1]])))
print(f"greedy (always the most likely) from {tokenizer.chars[greedy[0]]!r}: "
      f"{tokenizer.decode(greedy)!r}")
