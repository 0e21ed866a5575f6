"""11 - The KV cache: generating without recomputing the past.

To generate token n+1, a GPT needs the keys and values of all n tokens before it, in every
layer. Without a cache, each step runs the model over the whole sequence again, although only
the newest position is new: causal attention never lets a position look at later ones, so
the keys and values of earlier positions never change. The cache stores them:

    first step (prefill)   the whole prompt (T0 positions) -> keys, values stored
    every later step       ONE new position: its q, k, v; k and v appended to the cache;
                           its query attends over all cached keys

so step n costs one position's work instead of n positions'. The cache itself:

    cache.keys, cache.values   (n_layer, B, H, max_length, D), preallocated
    cache.length               how many positions are filled

Run it:              python examples/11_kv_cache.py
Smaller and faster:  EXAMPLES_FAST=1 python examples/11_kv_cache.py
Steadier timings:    OPENBLAS_NUM_THREADS=1 python examples/11_kv_cache.py  (on a busy
                     machine, BLAS threads waiting for each other can dominate the times)
In a debugger:       python -m pdb examples/11_kv_cache.py, and stop at a line marked
                     `breakpoint:` below (the README's debugger table lists them).
Then read gpt/kv_cache.py (the cache), gpt/generate.py (the loop, with and without it) and
CausalSelfAttention in gpt/model.py (where update is called).
"""
import os
import time

import numpy as np

import tinytorch as tt
from gpt import GPT, GPTConfig, KVCache
from gpt.sampling import next_tokens

FAST = os.environ.get("EXAMPLES_FAST") == "1"
PROMPT_TOKENS = 5                           # T0; every size here differs from the others
STEPS = 6                                   # section 2: steps shown one by one
NEW_TOKENS = 48 if FAST else 120            # section 4: tokens generated for the timing
SIZES = (dict(block_size=40, n_layer=2, n_head=4, n_embd=48) if FAST else
         dict(block_size=256, n_layer=3, n_head=4, n_embd=96))

# ---- 1. A small model and an empty cache ------------------------------------------------------
print("== 1. a small model (random weights: the tokens mean nothing, their sameness does) ==")
config = GPTConfig(vocab_size=65, **SIZES)
model = GPT(config, seed=0)
model.eval()
print(f"{model.num_parameters():,} parameters: {config.n_layer} layers, {config.n_head} heads "
      f"of size {config.head_size}, context {config.block_size}")
prompt = np.random.default_rng(0).integers(0, config.vocab_size, size=(1, PROMPT_TOKENS))
print(f"prompt: {prompt.tolist()} (B, T0) = {prompt.shape}")
cache = KVCache.for_model(model, batch_size=1)
print(f"cache.keys {cache.keys.shape} = (n_layer, B, H, max_length, D), {cache.keys.dtype}; "
      f"cache.values the same")
print(f"both preallocated: {cache.keys.nbytes + cache.values.nbytes:,} bytes; "
      f"cache.length = {cache.length}")

# ---- 2. Generating step by step with the cache ----------------------------------------------
# Sampled, not greedy: a model with random weights mostly repeats its last token when greedy.
print("\n== 2. sampling (temperature 1, seed 0), one forward pass per token, watching the "
      "cache ==")
width = PROMPT_TOKENS + STEPS          # positions drawn in the picture ('#' filled, '.' empty)
print(f"{'step':>4}  {'fed':8} {'cache.length':>12}  {'filled keys':20} {'logits':12} picture")
generator = np.random.default_rng(0)
generated = []
new_ids = prompt                                           # step 0 feeds the whole prompt
for step in range(STEPS + 1):
    with tt.no_grad():                   # the cache stores plain arrays: no graph to keep
        # breakpoint: `new_ids.shape` (the prompt first), `cache` (its length and shapes); then
        #   `b KVCache.update` (a name this file imported) and `c` to stop inside it:
        #   `k.shape` (B, H, T_new, D), `self.length`; `r` and `self.keys[layer, 0, 0, :4, :3]`
        logits, _ = model(new_ids, kv_cache=cache)         # (1, T_new, V)
    filled = cache.keys[:, :, :, :cache.length]            # (n_layer, B, H, length, D)
    picture = "#" * cache.length + "." * (width - cache.length)
    print(f"{step:4}  {str(new_ids.shape):8} {cache.length:12}  {str(filled.shape):20} "
          f"{str(logits.shape):12} [{picture}]")
    if step == STEPS:
        break
    next_id = next_tokens(logits.data[:, -1], temperature=1.0, generator=generator)   # (1,)
    generated.append(int(next_id[0]))
    new_ids = next_id[:, None]                             # (1, 1): only the new position

sequence = np.concatenate([prompt[0], generated])[None]    # (1, T0 + STEPS)
print(f"generated: {generated}")
print(f"model.generate(prompt, {STEPS}, seed=0), the same loop, gives the same tokens: "
      f"{np.array_equal(model.generate(prompt, STEPS, seed=0), sequence)}")

# ---- 3. Why the cache is exact ------------------------------------------------------------------
print("\n== 3. the cache holds exactly what a full pass computes ==")
# One pass over the whole sequence, with a fresh cache, fills every position at once.
full_cache = KVCache.for_model(model, batch_size=1)
with tt.no_grad():
    full_logits, _ = model(sequence, kv_cache=full_cache)  # (1, T0 + STEPS, V)
filled_length = cache.length                               # T0 + STEPS: the last token too
step_keys = cache.keys[:, :, :, :filled_length]
pass_keys = full_cache.keys[:, :, :, :filled_length]
print(f"keys, filled one position at a time vs in one pass: max |difference| "
      f"{np.max(np.abs(step_keys - pass_keys)):.1e}")
print(f"the last step's logits vs the full pass's last row: max |difference| "
      f"{np.max(np.abs(logits.data[0, -1] - full_logits.data[0, -1])):.1e} (float32 rounding)")

# ---- 4. The time saved --------------------------------------------------------------------------
print(f"\n== 4. {NEW_TOKENS} new tokens, sampled with seed 0, with and without the cache ==")
# Without the cache, step n runs all T0 + n positions; with it, the prompt once, then one.
positions_without = sum(PROMPT_TOKENS + n for n in range(NEW_TOKENS))
positions_with = PROMPT_TOKENS + (NEW_TOKENS - 1)
print(f"positions run through the model: without the cache {positions_without:,}, with it "
      f"{positions_with:,} ({positions_without / positions_with:.1f} x fewer)")
start = time.perf_counter()
without_cache = model.generate(prompt, NEW_TOKENS, seed=0, use_cache=False)
seconds_without = time.perf_counter() - start
start = time.perf_counter()
with_cache = model.generate(prompt, NEW_TOKENS, seed=0, use_cache=True)
seconds_with = time.perf_counter() - start
print(f"without the cache: {seconds_without:7.3f} s, {NEW_TOKENS / seconds_without:8.1f} "
      f"tokens/s")
print(f"with the cache:    {seconds_with:7.3f} s, {NEW_TOKENS / seconds_with:8.1f} tokens/s")
speedup = seconds_without / seconds_with
print(f"the cache is {speedup:.1f} x faster on this machine, now")
# Usually less than the positions saved: each step also pays costs that do not grow with the
# length (Python's work per op and per layer, the weights' matmuls for the new position); for
# a model this small they weigh a lot. More than that means the long passes without the cache
# were slowed by something else: other programs, or BLAS threads waiting for each other.
if speedup <= positions_without / positions_with:
    print("(less than the positions saved: every step also pays a cost that does not depend "
          "on the length)")
else:
    print("(more than the positions saved: the machine slowed the long passes; try again "
          "with OPENBLAS_NUM_THREADS=1)")
print(f"both give the same {with_cache.shape[1]} tokens: "
      f"{np.array_equal(without_cache, with_cache)}")
print(f"the last ten: {with_cache[0, -10:].tolist()}")
