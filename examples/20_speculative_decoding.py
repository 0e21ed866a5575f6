"""20 - Speculative decoding: a small model drafts, the large one checks several tokens at once.

Generating token by token runs the large model once per token, and for one token at a time a
forward pass is mostly fixed cost: reading every weight, Python's work per layer. Checking k
tokens in one pass costs little more than generating one. So a cheap draft model guesses k
tokens, and the large model verifies them all in one pass:

    draft    x_1 .. x_k, each drawn from the draft's q_i              (k cheap passes)
    verify   the large model over [last token, x_1 .. x_k]: p_1 .. p_{k+1}   (one pass)
    accept   x_i with probability min(1, p_i(x_i) / q_i(x_i)); at the first rejection draw
             from max(0, p_i - q_i), normalised, and stop; all accepted: draw from p_{k+1}
    roll back both KV caches past the first rejected token

Every token comes out distributed exactly as the large model alone would draw it (with
temperature 0: exactly its greedy output), whatever the draft; a good draft only makes it
faster. The draft here is the large model's own first layer, with its embedding, final norm
and head (self-speculative decoding: no second model to train); gpt2-tiny has two layers, so
this draft costs about half of it and the gain is small. benchmarks/bench_generate.py measures
a 1-layer draft beside a 6-layer model.

Run it:              python examples/20_speculative_decoding.py
Smaller and faster:  EXAMPLES_FAST=1 python examples/20_speculative_decoding.py
In a debugger:       python -m pdb examples/20_speculative_decoding.py, and stop at a line
                     marked `breakpoint:` below (the README's debugger table lists them).
Then read gpt/speculative.py (verify_token, speculative_round) and KVCache.truncate in
gpt/kv_cache.py.
"""
import dataclasses
import os
import sys
import time
from pathlib import Path

import numpy as np

import tinytorch as tt
from gpt import GPT, KVCache
from gpt.sampling import draw
from gpt.speculative import (logits_of_new_tokens, speculative_generate, token_probs,
                             verify_token)
from gpt.tokenizers import load_tokenizer

FAST = os.environ.get("EXAMPLES_FAST") == "1"
DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
DRAFT_TOKENS = 4                         # k; every size here differs from the others
NEW_TOKENS = 30 if FAST else 110         # sections 3 to 5
PROMPT = "ROMEO:\n"

if not (DATA / "gpt2-tiny").is_dir():
    sys.exit(f"this walk-through needs gpt2-tiny from the reference data, at {DATA}")
model = GPT.from_pretrained(DATA / "gpt2-tiny").eval()
tokenizer = load_tokenizer(DATA / "gpt2-tiny")

# ---- 1. The large model and its draft -------------------------------------------------------
print("== 1. the large model and a draft made of its first layer ==")
draft = GPT(dataclasses.replace(model.config, n_layer=1), seed=0).eval()
draft.load_state_dict({name: array for name, array in model.state_dict().items()
                       if name in draft.state_dict()})
print(f"large: gpt2-tiny, {model.config.n_layer} layers, {model.num_parameters():,} parameters")
print(f"draft: its layer 0, embedding, final norm and head: {draft.config.n_layer} layer, "
      f"{draft.num_parameters():,} parameters")
random_draft = GPT(draft.config, seed=1).eval()              # untrained: a terrible guesser
prompt = np.array([tokenizer.encode(PROMPT)])                                   # (1, T0)
T0 = prompt.shape[1]

# ---- 2. One round by hand -------------------------------------------------------------------
print(f"\n== 2. one round by hand: the draft proposes {DRAFT_TOKENS} tokens (temperature 1, "
      f"seed 0) ==")
generator = np.random.default_rng(0)
sampling = (1.0, None, None)                           # temperature, top_k, top_p
cache = KVCache.for_model(model, 1, T0 + DRAFT_TOKENS)
draft_cache = KVCache.for_model(draft, 1, T0 + DRAFT_TOKENS)
with tt.no_grad():
    drafted, draft_probs = prompt[0], []
    for _ in range(DRAFT_TOKENS):
        logits = logits_of_new_tokens(draft, drafted, draft_cache)[-1:]          # (1, V)
        draft_probs.append(token_probs(logits, *sampling)[0])
        drafted = np.append(drafted, draw(draft_probs[-1][None], generator)[0])
    # the large model's one pass: the prompt and the drafts, a distribution after each
    probs = token_probs(logits_of_new_tokens(model, drafted, cache)[-(DRAFT_TOKENS + 1):],
                        *sampling)                                   # (k + 1, V)
print(f"the large model ran once over {cache.length} positions; probs {probs.shape} = "
      f"(k + 1, V): one distribution after the prompt and after each draft token")
print(f"{'i':>2} {'draft token':>14} {'q(x)':>7} {'p(x)':>7} {'p/q':>6}  verdict")
kept = []
for i, proposal in enumerate(drafted[T0:]):
    q_x, p_x = draft_probs[i][proposal], probs[i][proposal]
    # breakpoint: `proposal`, `p_x`, `q_x` (accepted with probability min(1, p_x / q_x)), then
    #   `s` into gpt/speculative.py's verify_token, `r` to its end and `n`: `accepted`, `token`
    accepted, token = verify_token(probs[i], draft_probs[i], proposal, generator)
    kept.append(token)
    verdict = "accepted" if accepted else f"rejected: {tokenizer.decode([token])!r} instead"
    print(f"{i:2} {tokenizer.decode([int(proposal)])!r:>14} {q_x:7.3f} {p_x:7.3f} "
          f"{p_x / q_x:6.2f}  {verdict}")
    if not accepted:
        break
else:
    kept.append(int(draw(probs[-1][None], generator)[0]))
    print(f"all accepted: the pass also gives the next token, {tokenizer.decode(kept[-1:])!r}")
n_accepted = len(kept) - 1
print(f"this round made {len(kept)} tokens for one pass of the large model: "
      f"{tokenizer.decode(kept)!r}")
length_before = cache.length
cache.truncate(T0 + n_accepted)
print(f"the large model's cache rolled back from {length_before} to {cache.length} positions "
      f"(the prompt and the {n_accepted} accepted; the last kept token is fed next round)")

# ---- 3. Greedy: the large model's own output, whatever the draft ----------------------------
print(f"\n== 3. greedy, {NEW_TOKENS} new tokens, {DRAFT_TOKENS} drafted per round ==")
greedy = model.generate(prompt, NEW_TOKENS, temperature=0)
for name, candidate in (("layer-0 draft", draft), ("random draft", random_draft)):
    out, stats = speculative_generate(model, candidate, prompt, NEW_TOKENS, DRAFT_TOKENS,
                                      temperature=0, return_stats=True)
    runs = np.bincount(stats.accepted, minlength=DRAFT_TOKENS + 1)
    print(f"{name}: same tokens as greedy: {np.array_equal(out, greedy)}; "
          f"{len(stats.accepted)} rounds, acceptance rate {stats.acceptance_rate:.2f}, "
          f"{stats.tokens_per_round:.2f} tokens per pass of the large model")
    print(f"  rounds that accepted 0..{DRAFT_TOKENS} drafts: {runs.tolist()}")

# ---- 4. The time, against plain decoding ----------------------------------------------------
print("\n== 4. time (greedy; printed, it depends on the machine) ==")


def seconds_per_step(network, repeats=15):
    """The median time of one cached step (one new token) of `network`."""
    step_cache = KVCache.for_model(network, 1, T0 + 1)
    times = []
    with tt.no_grad():
        for _ in range(repeats):
            step_cache.truncate(0)
            logits_of_new_tokens(network, prompt[0, :-1], step_cache)
            start = time.perf_counter()
            logits_of_new_tokens(network, prompt[0], step_cache)
            times.append(time.perf_counter() - start)
    return float(np.median(times))


cost = seconds_per_step(draft) / seconds_per_step(model)
_, stats = speculative_generate(model, draft, prompt, NEW_TOKENS, DRAFT_TOKENS,
                                temperature=0, return_stats=True)
# a round costs k draft steps and one large pass (about one large step) and makes
# tokens_per_round tokens, which plain decoding makes in as many large steps
predicted = (DRAFT_TOKENS * cost + 1) / stats.tokens_per_round
print(f"one draft step costs {cost:.2f} of a large step; with {stats.tokens_per_round:.2f} "
      f"tokens per round the time should be about {predicted:.2f} of plain decoding's")
timings = {}
for name, run in (("plain", lambda: model.generate(prompt, NEW_TOKENS, temperature=0)),
                  ("speculative", lambda: model.generate(prompt, NEW_TOKENS, temperature=0,
                                                         draft_model=draft,
                                                         num_draft_tokens=DRAFT_TOKENS))):
    start = time.perf_counter()
    run()
    timings[name] = time.perf_counter() - start
    print(f"{name:12} {timings[name]:7.3f} s  {NEW_TOKENS / timings[name]:7.1f} tokens/s")
print(f"measured: speculative / plain time {timings['speculative'] / timings['plain']:.2f} "
      f"(below 1 is faster)")
print("a draft pays off when its step is cheap beside the large model's: half of a 2-layer "
      "model is too dear here; a 1-layer draft of a 6-layer model is not "
      "(benchmarks/bench_generate.py)")

# ---- 5. Sampling --------------------------------------------------------------------------
print("\n== 5. sampling (temperature 0.8): the same distribution as the large model's ==")
out, stats = speculative_generate(model, draft, prompt, NEW_TOKENS, DRAFT_TOKENS,
                                  temperature=0.8, seed=0, return_stats=True)
print(f"acceptance rate {stats.acceptance_rate:.2f}, {stats.tokens_per_round:.2f} tokens per "
      f"pass of the large model")
print(f"text: {tokenizer.decode(out[0, T0:].tolist())[:60]!r}")
print("tests/gpt/test_speculative.py checks the distribution with a chi-square test")
