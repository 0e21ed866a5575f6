"""12 - A real GPT-2 checkpoint and its tokenizer: load, inspect, encode, generate.

A Hugging Face GPT-2 directory holds the architecture (config.json), the weights
(model.safetensors) and the byte-level BPE tokenizer (vocab.json + merges.txt). This loads
one with our own code, prints what is inside, turns a prompt into token ids and continues
it, greedily and by sampling.

Run it:              python examples/12_load_gpt2.py
Smaller and faster:  EXAMPLES_FAST=1 python examples/12_load_gpt2.py
In a debugger:       python -m pdb examples/12_load_gpt2.py, and stop at a line marked
                     `breakpoint:` below (the README's debugger table lists them).
Another checkpoint:  python examples/12_load_gpt2.py DIRECTORY ["a prompt"]

Without an argument it loads ../shared/data/gpt2-tiny (next to the repository's folder): a
2-layer GPT-2 trained briefly on Shakespeare. The real GPT-2 (124M parameters, about 500 MB)
works the same way; download its four files once, for example with curl:

    mkdir gpt2 && for f in config.json model.safetensors vocab.json merges.txt; do
        curl -L -o gpt2/$f https://huggingface.co/openai-community/gpt2/resolve/main/$f; done
    python examples/12_load_gpt2.py gpt2 "The meaning of life is"

Then read gpt/hf_checkpoint.py (HF's layout to ours), gpt/generate.py (the loop) and
gpt/sampling.py (greedy, temperature, top-k).
"""
import os
import sys
from pathlib import Path

import numpy as np

import bpe
import tinytorch as tt
import tinytorch.functional as F
from gpt import GPT
from gpt.tokenizers import load_tokenizer

FAST = os.environ.get("EXAMPLES_FAST") == "1"
GREEDY_TOKENS = 20 if FAST else 40
SAMPLE_TOKENS = 30 if FAST else 80
ROOT = Path(__file__).resolve().parent.parent
GPT2_TINY = ROOT.parent / "shared" / "data" / "gpt2-tiny"
directory = Path(sys.argv[1]) if len(sys.argv) > 1 else GPT2_TINY
prompt = sys.argv[2] if len(sys.argv) > 2 else "ROMEO:\nWhat light"

if not directory.is_dir():
    sys.exit(f"error: no checkpoint directory at {directory} (see this file's docstring)")

# ---- 1. The checkpoint ------------------------------------------------------------------------
try:
    model = GPT.from_pretrained(directory)         # config.json + model.safetensors
    tokenizer = load_tokenizer(directory)          # vocab.json + merges.txt
except (OSError, ValueError) as error:
    sys.exit(f"error: cannot load {directory}: {error}")
model.eval()                  # no dropout (GPT-2's checkpoints are for inference)
print(f"== 1. the checkpoint in {directory.name}/ ==")
for path in sorted(p for p in directory.iterdir() if p.is_file()):
    print(f"  {path.name:24} {path.stat().st_size:>12,} bytes")

# ---- 2. The architecture -----------------------------------------------------------------------
print("\n== 2. the architecture ==")
print(model)
config = model.config
print(f"parameters: {model.num_parameters():,} "
      f"({model.num_parameters(non_embedding=True):,} without the position embeddings)")
print(f"the LM head is the token embedding, transposed: one ({config.vocab_size}, "
      f"{config.n_embd}) matrix,\n  {config.vocab_size * config.n_embd:,} parameters, "
      f"counted once")
print(f"each of the {config.n_head} heads is {config.head_size} wide; the context is "
      f"{config.block_size} tokens")
print(f"tokenizer: {tokenizer}; special tokens {tokenizer.special_tokens}")

# ---- 3. The prompt as token ids --------------------------------------------------------------
print("\n== 3. the prompt as tokens ==")
try:
    ids = tokenizer.encode(prompt)
except ValueError as error:                    # e.g. a character a char-level model never saw
    sys.exit(f"error: cannot encode the prompt: {error}")
print(f"prompt: {prompt!r}")
print(f"ids:    {ids}")
print("pieces: " + " | ".join(bpe.render_token(tokenizer.decode_bytes([i])) for i in ids))
print(f"{len(prompt)} characters -> {len(ids)} tokens")

# ---- 4. What the model predicts next ---------------------------------------------------------
print("\n== 4. the next token: the model's distribution after the prompt ==")
idx = np.array([ids])                                              # (B=1, T)
with tt.no_grad():                 # inference: no graph, no memory kept for a backward pass
    logits, _ = model(idx[:, -config.block_size:])                 # (1, T, V)
probs = F.softmax(logits[0, -1], dim=-1).data                      # (V,) the last position
print(f"logits {logits.shape}: one row of {config.vocab_size} scores per position; "
      f"the last row is the prediction")
for rank, token in enumerate(np.argsort(-probs, kind="stable")[:5], start=1):
    piece = bpe.render_token(tokenizer.decode_bytes([int(token)]))
    print(f"  {rank}. id {int(token):5}  {piece:14} p = {probs[token]:.4f}")

# ---- 5. Generating -------------------------------------------------------------------------
print(f"\n== 5. greedy: the most likely token, {GREEDY_TOKENS} times ==")
# breakpoint: `s` into generate (`gpt/generate.py`), `n` 11 times to the loop's first line; then
#   `n` and `logits.shape` (B, V), `n` and `token` (the chosen id); `n` 5 times round the loop
#   and `token` again
greedy = model.generate(idx, GREEDY_TOKENS, temperature=0)        # (1, T + n), prompt first
print(f"new ids: {greedy[0, len(ids):].tolist()}")
print("text:")
for line in tokenizer.decode(greedy[0].tolist()).split("\n"):
    print(f"  | {line}")

print(f"\n== 6. sampling: temperature 0.8, top-k 40, seed 0, {SAMPLE_TOKENS} tokens ==")
sample = model.generate(idx, SAMPLE_TOKENS, temperature=0.8, top_k=40, seed=0)
print("text:")
for line in tokenizer.decode(sample[0].tolist()).split("\n"):
    print(f"  | {line}")
again = model.generate(idx, SAMPLE_TOKENS, temperature=0.8, top_k=40, seed=0)
print(f"the same seed gives the same tokens: {np.array_equal(sample, again)}")
other = model.generate(idx, SAMPLE_TOKENS, temperature=0.8, top_k=40, seed=1)
print(f"another seed, another text: {not np.array_equal(sample, other)}")
