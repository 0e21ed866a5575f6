"""05 - Embeddings: a token id becomes a vector by picking a row of a table.

A GPT's first layer is two lookup tables:

    wte (V, C)            one row per token id: what the token is
    wpe (block_size, C)   one row per position: where it is
    x = wte[idx] + wpe[0..T)       idx (B, T) ints  ->  x (B, T, C): the residual stream's start

Picking row i is the same as multiplying a one-hot vector (1 at i, 0 elsewhere) by the table,
only without the V-wide multiplication. Training moves the rows: tokens that are used alike
end up with rows that point alike, which the cosine similarity of two rows measures.

Run it:              python examples/05_embeddings.py
Smaller and faster:  EXAMPLES_FAST=1 python examples/05_embeddings.py
Another checkpoint:  python examples/05_embeddings.py DIRECTORY     (any Hugging Face GPT-2)

Section 4 loads ../shared/data/gpt2-tiny (next to the repository's folder), a small GPT-2
trained on Shakespeare; if that folder is missing it trains a tiny character-level model for
a few seconds instead, on Python's own help texts, and says so.

In a debugger:       python -m pdb examples/05_embeddings.py, and stop at a line marked
                     `breakpoint:` below (the README's debugger table lists them).
Then read tinytorch/functional/embedding.py (the lookup and its backward) and
Transformer.forward in gpt/model.py (the embeddings' place in the model).
"""
import os
import sys
import time
from pathlib import Path

import numpy as np

import bpe
import tinytorch as tt
from gpt import GPT, GPTConfig
from gpt.data import default_corpus, get_batch
from gpt.tokenizers import CharTokenizer, load_tokenizer

FAST = os.environ.get("EXAMPLES_FAST") == "1"
TRAIN_STEPS = 120 if FAST else 600     # the fallback model's training, when gpt2-tiny is missing
ROOT = Path(__file__).resolve().parent.parent
GPT2_TINY = ROOT.parent / "shared" / "data" / "gpt2-tiny"
directory = Path(sys.argv[1]) if len(sys.argv) > 1 else GPT2_TINY

np.set_printoptions(precision=3, suppress=True, floatmode="fixed", sign=" ", linewidth=100)

# ---- 1. The lookup table -------------------------------------------------------------------------
print("== 1. an embedding is a table; looking up a token picks its row ==")
vocab = ["the", "cat", "sat", "on", "mat", "dog", "ran", "."]          # a toy vocabulary
V, C = len(vocab), 4                                                  # tokens, width
token_table = tt.nn.Embedding(V, C, generator=np.random.default_rng(0))   # weight (V, C)
sentence = "the cat sat on the mat".split()
ids = np.array([vocab.index(word) for word in sentence])              # (T,)
print(f"vocabulary {vocab}")
print(f"{sentence} -> ids {ids.tolist()}")
print(f"the table, weight {token_table.weight.shape}:\n{token_table.weight.data}")
rows = token_table(ids)                                               # (T, C)
print(f"token_table(ids) {rows.shape}: row ids[t] of the table for each t:\n{rows.data}")
one_hot = np.eye(V, dtype=np.float32)[ids]                            # (T, V)
print(f"one_hot(ids) {one_hot.shape}: a 1 in column ids[t]:\n{one_hot.astype(int)}")
by_matmul = one_hot @ token_table.weight.data                         # (T, V) @ (V, C)
print(f"one_hot @ weight {by_matmul.shape} equals the lookup: "
      f"max |difference| {np.max(np.abs(by_matmul - rows.data))}")
print(f"'the' appears twice, so its row appears twice: rows 0 and 4 equal: "
      f"{np.array_equal(rows.data[0], rows.data[4])}")
# Backward: each output row came from one table row, so its gradient flows back into that
# row only; a row looked up twice receives both gradients, added.
rows.backward(np.ones_like(rows.data))
print("the gradient of the table for an upstream gradient of ones (column 0 shown): "
      "row i gets one per lookup of token i")
for word, grad_row in zip(vocab, token_table.weight.grad):
    print(f"  {word:4} {grad_row[0]:.0f}")

# ---- 2. The position table ----------------------------------------------------------------------
print("\n== 2. positions get a table of their own ==")
block_size = 10                                      # the longest context this model accepts
position_table = tt.nn.Embedding(block_size, C, generator=np.random.default_rng(1))
T = len(ids)
positions = np.arange(T)                                              # 0, 1, ..., T-1
pos_emb = position_table(positions)                                   # (T, C)
print(f"position_table.weight {position_table.weight.shape}: one row per position "
      f"0..{block_size - 1}")
print(f"positions {positions.tolist()} -> pos_emb {pos_emb.shape}")
print(f"'the' at positions 0 and 4 has one token row but two position rows; "
      f"pos_emb[0] == pos_emb[4]: {np.array_equal(pos_emb.data[0], pos_emb.data[4])}")

# ---- 3. Their sum, for a batch ------------------------------------------------------------------
print("\n== 3. the model's input: token rows plus position rows ==")
batch = np.array([ids, [vocab.index(w) for w in "the dog ran on the mat".split()]])  # (B, T)
tok_emb = token_table(batch)                                          # (B, T, C)
# breakpoint: `tok_emb.shape` (B, T, C), `pos_emb.shape` (T, C), `token_table.weight.data[batch[0, 0]][:4]`,
#   then `n` and `x.shape`, `x.data[0, 0, :4]`
x = tok_emb + pos_emb                       # (B, T, C) + (T, C): pos_emb is added to each row
print(f"{'idx':10} {str(batch.shape):10} (B, T) token ids")
print(f"{'tok_emb':10} {str(tok_emb.shape):10} (B, T, C) = token_table(idx)")
print(f"{'pos_emb':10} {str(pos_emb.shape):10} (T, C)    = position_table(0..T-1), "
      f"broadcast over B")
print(f"{'x':10} {str(x.shape):10} (B, T, C) = tok_emb + pos_emb")
print(f"now 'the' at positions 0 and 4 differs: x[0, 0] = {x.data[0, 0]}, "
      f"x[0, 4] = {x.data[0, 4]}")
print(f"and x[0, 0] - x[0, 4] = pos_emb[0] - pos_emb[4]: "
      f"{np.allclose(x.data[0, 0] - x.data[0, 4], pos_emb.data[0] - pos_emb.data[4])}")
print(f"'the' at position 0 in both sentences is the same vector: "
      f"{np.array_equal(x.data[0, 0], x.data[1, 0])}")

# ---- 4. Nearest neighbours in a trained model --------------------------------------------------
if directory.is_dir():
    model = GPT.from_pretrained(directory)
    tokenizer = load_tokenizer(directory)
    queries = [" his", " shall", " lord", " me", ".", "What"]
    groups = [" his", " my", " thy", ".", "?", "!"]        # two kinds of token, three of each
    print(f"\n== 4. nearest neighbours in a trained model: {directory.name}, loaded ==")
else:
    print(f"\n== 4. nearest neighbours in a trained model: no checkpoint at {directory}, "
          f"so a character-level model trained for {TRAIN_STEPS} steps here ==")
    text = default_corpus()[:200_000]             # Python's help texts: no download needed
    tokenizer = CharTokenizer.from_text(text)
    corpus_ids = np.array(tokenizer.encode(text))
    config = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=32, n_layer=2, n_head=4,
                       n_embd=48)
    model = GPT(config, seed=0)
    optimizer = tt.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    batch_generator = np.random.default_rng(0)
    start = time.perf_counter()
    for step in range(TRAIN_STEPS):
        inputs, targets = get_batch(corpus_ids, 32, 16, batch_generator)
        _, loss = model(inputs, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    print(f"trained on {len(text):,} characters of Python's help texts in "
          f"{time.perf_counter() - start:.1f} s; the last batch's loss {loss.item():.3f}")
    queries = ["a", "e", "A", "1", "(", "."]
    groups = ["a", "e", "o", "1", "2", "3"]

wte = model.transformer.wte.weight.data                               # (V, C) the trained table
print(f"transformer.wte.weight {wte.shape}: {wte.shape[0]} tokens, {wte.shape[1]} numbers each "
      f"(the LM head reuses it: logits = x @ wte^T)")
print(f"transformer.wpe.weight {model.transformer.wpe.weight.shape}: one row per position")
# Cosine similarity: the dot product of the rows scaled to length 1, so only the direction
# counts, from -1 (opposite) through 0 (unrelated) to 1 (the same direction).
unit_rows = wte / np.linalg.norm(wte, axis=1, keepdims=True)         # (V, C), each length 1
query_ids = []
for query in queries:
    token_ids = tokenizer.encode(query)
    if len(token_ids) != 1:
        print(f"{query!r} is {len(token_ids)} tokens in this vocabulary: skipped")
        continue
    query_ids.append(token_ids[0])
    similarity = unit_rows @ unit_rows[token_ids[0]]                 # (V,) one per token
    nearest = [int(i) for i in np.argsort(-similarity, kind="stable") if i != token_ids[0]][:5]
    print(f"{bpe.render_token(tokenizer.decode_bytes(token_ids)):>10} (id {token_ids[0]:3}) "
          f"nearest: " + "  ".join(f"{bpe.render_token(tokenizer.decode_bytes([i]))} "
                                   f"{similarity[i]:.3f}" for i in nearest))

group_ids = [ids[0] for ids in map(tokenizer.encode, groups) if len(ids) == 1]
names = [bpe.render_token(tokenizer.decode_bytes([i])) for i in group_ids]
print("cosine similarities within and across two kinds of token:")
print(" " * 8 + "".join(f"{name:>8}" for name in names))
for name, i in zip(names, group_ids):
    print(f"{name:>8}" + "".join(f"{unit_rows[i] @ unit_rows[j]:8.3f}" for j in group_ids))

# The same measure on an untrained model of the same shape: rows drawn at random point in
# unrelated directions, so whatever structure is above was learned.
untrained = GPT(GPTConfig(vocab_size=wte.shape[0], block_size=8, n_layer=1, n_head=1,
                          n_embd=wte.shape[1]), seed=0)
random_rows = untrained.transformer.wte.weight.data
random_unit = random_rows / np.linalg.norm(random_rows, axis=1, keepdims=True)
print(f"mean similarity of each query to its nearest neighbour: trained "
      f"{np.mean([np.sort(unit_rows @ unit_rows[i])[-2] for i in query_ids]):.3f}, "
      f"untrained {np.mean([np.sort(random_unit @ random_unit[i])[-2] for i in query_ids]):.3f}")
