"""09 - Picking the next token: greedy, temperature, top-k and top-p, on one distribution.

A GPT's last position gives one score (logit) per vocabulary entry. Softmax turns the scores
into probabilities, and the generation loop must then pick ONE token. The choices:

    greedy        always the most likely token (deterministic, and soon repetitive)
    temperature   sample from softmax(logits / T): T < 1 sharpens, T > 1 flattens
    top-k         keep the k most likely tokens, renormalise, sample
    top-p         keep the fewest most likely tokens whose probabilities add up to p,
                  renormalise, sample ("nucleus sampling": the cut adapts to the shape)

Each filter sets the logits of the tokens it drops to -inf, so softmax gives them 0. Here all
of them act on the same ten logits, shown side by side, then draw seeded samples.

Run it:              python examples/09_sampling.py
Smaller and faster:  EXAMPLES_FAST=1 python examples/09_sampling.py
In a debugger:       python -m pdb examples/09_sampling.py, and stop at a line marked
                     `breakpoint:` below (the README's debugger table lists them).
Then read gpt/sampling.py (the filters and next_tokens) and gpt/generate.py (the loop).
"""
import math
import os

import numpy as np

from gpt.sampling import next_tokens, top_k_filter, top_p_filter

FAST = os.environ.get("EXAMPLES_FAST") == "1"
N_DRAWS = 2_000 if FAST else 100_000       # samples per setting, to compare with the table

np.set_printoptions(precision=3, suppress=True, floatmode="fixed", linewidth=100)


def softmax(logits):
    """e^logit / sum of e^logit; shifted by the maximum so that exp cannot overflow."""
    exps = np.exp(logits - np.max(logits))
    return exps / exps.sum()


# ---- 1. Logits and probabilities --------------------------------------------------------------
print('== 1. the model\'s scores for the token after "The cat sat on the" ==')
tokens = [" mat", " floor", " sofa", " bed", " roof", " table", " dog", " moon", " idea", " the"]
logits = np.array([3.2, 2.6, 2.2, 1.9, 1.3, 1.0, 0.2, -0.5, -1.5, -2.5])   # (V,) made up
probs = softmax(logits)                                                       # (V,)
print(f"{'token':8} {'logit':>6} {'e^logit':>8} {'p':>6}")
for token, logit, p in zip(tokens, logits, probs):
    print(f"{token!r:8} {logit:6.2f} {math.exp(logit):8.3f} {p:6.3f}")
print(f"the probabilities sum to {probs.sum():.6f}")

# ---- 2. The settings, each one distribution ---------------------------------------------------
print("\n== 2. how each setting reshapes the same distribution ==")
settings = [                       # (name, temperature, top_k, top_p), as next_tokens takes them
    ("greedy", 0.0, None, None),
    ("T=0.5", 0.5, None, None),
    ("T=1", 1.0, None, None),
    ("T=2", 2.0, None, None),
    ("top-k=3", 1.0, 3, None),
    ("top-p=0.9", 1.0, None, 0.9),
    ("T=0.8,k=5,p=0.9", 0.8, 5, 0.9),
]
distributions = {}
for name, temperature, top_k, top_p in settings:
    if temperature == 0:
        # greedy: all the probability on the largest logit (next_tokens takes the argmax)
        distribution = np.eye(len(logits))[np.argmax(logits)]
    else:
        scaled = logits / temperature              # T < 1 stretches the gaps, T > 1 shrinks them
        filtered = scaled
        if top_k is not None:                      # the filters take a batch (B, V): add B = 1
            filtered = top_k_filter(filtered[None], top_k)[0]
        if top_p is not None:
            # breakpoint: `name`, `filtered` (before), then `s` into `gpt/sampling.py`'s top_p_filter,
            #   `r` to its end and `mass_before` (what came before each token), `drop_sorted`
            filtered = top_p_filter(filtered[None], top_p)[0]
        distribution = softmax(filtered)           # e^-inf = 0 for every dropped token
    distributions[name] = distribution

names = [name for name, *_ in settings]
widths = [max(8, len(name) + 2) for name in names]      # one column per setting
print(f"{'token':8}" + "".join(f"{name:>{w}}" for name, w in zip(names, widths)))
for i, token in enumerate(tokens):
    print(f"{token!r:8}" + "".join(
        f"{distributions[name][i]:{w}.3f}" if distributions[name][i] > 0 else f"{'-':>{w}}"
        for name, w in zip(names, widths)))
print(f"{'sum':8}" + "".join(f"{distributions[name].sum():{w}.3f}"
                             for name, w in zip(names, widths)))
print("('-': dropped by a filter, probability exactly 0)")
for name in names:
    kept = [tokens[i] for i in np.flatnonzero(distributions[name])]
    print(f"  {name:16} can pick {len(kept):2} token(s):{''.join(kept)}")

# How spread out each distribution is: its entropy in bits, and 2^entropy, the number of
# equally likely tokens that would be as uncertain ("how many tokens it is choosing among").
print("uncertainty (entropy in bits, and as a number of equally likely tokens):")
for name in names:
    d = distributions[name][distributions[name] > 0]
    entropy = float(-(d * np.log2(d)).sum()) + 0.0          # + 0.0: no "-0.000" for greedy
    print(f"  {name:16} {entropy:5.3f} bits ~ {2 ** entropy:4.2f} tokens")

# ---- 3. Top-p, step by step ---------------------------------------------------------------------
print("\n== 3. top-p = 0.9: most likely first; keep a token while those above it hold < 0.9 ==")
order = np.argsort(-probs, kind="stable")
mass_before = 0.0                     # the probability of the tokens more likely than this one
for i in order:
    verdict = "keep" if mass_before < 0.9 else "drop"
    print(f"  {tokens[i]!r:8} p {probs[i]:.3f}   held by the tokens above: {mass_before:.3f}"
          f"   {verdict}")
    mass_before += probs[i]

# ---- 4. Seeded samples ---------------------------------------------------------------------------
print(f"\n== 4. {N_DRAWS:,} draws per setting with next_tokens, seed 0 ==")
batch = np.tile(logits, (N_DRAWS, 1))        # (N, V): one row per draw, as a batch of B = N
draws = {}
for name, temperature, top_k, top_p in settings:
    generator = np.random.default_rng(0)
    draws[name] = next_tokens(batch, temperature, top_k, top_p, generator)   # (N,) token ids
    first = "".join(tokens[i] for i in draws[name][:10])
    print(f"  {name:16} the first ten draws:{first}")
print("how often each token was drawn (compare with the table in section 2):")
frequencies = {name: np.bincount(draws[name], minlength=len(tokens)) / N_DRAWS for name in names}
print(f"{'token':8}" + "".join(f"{name:>{w}}" for name, w in zip(names, widths)))
for i, token in enumerate(tokens):
    print(f"{token!r:8}" + "".join(f"{frequencies[name][i]:{w}.3f}"
                                   for name, w in zip(names, widths)))
never = all(np.all(frequencies[name][distributions[name] == 0] == 0) for name in names)
print(f"no setting ever drew a token it dropped: {never}")
again = next_tokens(batch[:20], 1.0, None, 0.9, np.random.default_rng(0))
print(f"the same seed draws the same tokens: {np.array_equal(again, draws['top-p=0.9'][:20])}")
other = next_tokens(batch[:20], 1.0, None, 0.9, np.random.default_rng(1))
print(f"another seed draws others: {not np.array_equal(other, draws['top-p=0.9'][:20])}")
