"""16 - Positions: learned, sinusoidal and rotary, side by side.

Attention by itself does not know where a token is: shuffle the tokens and every score moves
with them, unchanged. A model learns word order only from something that marks positions.
Three ways, the three a book on transformers names:

    learned      a table (block_size, C), trained like the token embeddings, added to them
                 (GPT-2's wpe): nothing ties position 7 to position 8
    sinusoidal   a fixed table of sines and cosines at geometric frequencies, added the same
                 way (Vaswani et al., 2017): a row's dot product with another depends on their
                 distance only
    rotary       nothing is added; inside attention each pair of a head's dimensions of q and
                 k is turned by an angle proportional to the position (Su et al., RoPE; Llama,
                 Qwen): the score q_m . k_n then depends on m - n only, the distance

Run it:              python examples/16_positions.py
Smaller and faster:  EXAMPLES_FAST=1 python examples/16_positions.py
In a debugger:       python -m pdb examples/16_positions.py, and stop at a line marked
                     `breakpoint:` below (the README's debugger table lists them).
Then read gpt/positions.py (the tables and Llama 3's frequency scaling),
tinytorch/functional/rotary.py (the rotation, fused, and its backward) and the attention in
gpt/model.py (where q and k are turned).
"""
import os

import numpy as np

import tinytorch as tt
import tinytorch.functional as F
from gpt import GPT, GPTConfig
from gpt.positions import rope_inverse_frequencies, rotary_tables, sinusoidal_positions

FAST = os.environ.get("EXAMPLES_FAST") == "1"
T, C = (9, 12) if FAST else (24, 32)          # positions shown, the width of a token's vector
D = 6 if FAST else 16                         # the head size rotary turns (pairs of dims)
THETA = 10000.0

np.set_printoptions(precision=3, suppress=True, linewidth=110, floatmode="fixed", sign=" ")


def similarity(table):
    """Cosine similarity of every row of `table` (T, X) with every other: (T, T)."""
    unit = table / np.linalg.norm(table, axis=1, keepdims=True)
    return unit @ unit.T


def spread_along_diagonals(matrix):
    """The largest spread (max - min) of the values along any diagonal of a square matrix:
    0 when each value depends only on the distance between row and column."""
    return max(float(np.ptp(np.diagonal(matrix, offset))) for offset in range(-len(matrix) + 1,
                                                                               len(matrix)))


# ---- 1. Learned: a table like the token embeddings -------------------------------------------
print(f"== 1. learned positions: a table ({T}, {C}) trained with the model ==")
learned = tt.nn.Embedding(T, C, generator=np.random.default_rng(0)).weight.data       # (T, C)
print(f"wpe {learned.shape}: row t is added to the token at position t")
print(f"untrained, neighbouring rows are unrelated: cosine(row 3, row 4) = "
      f"{similarity(learned)[3, 4]:.3f}, cosine(row 3, row {T - 1}) = "
      f"{similarity(learned)[3, T - 1]:.3f}")
print("nothing makes position 8 like position 7: training has to discover order, and a "
      "position past the table has no row at all")

# ---- 2. Sinusoidal: a fixed table of clocks -----------------------------------------------------
print(f"\n== 2. sinusoidal positions: sin and cos at {C // 2} speeds, ({T}, {C}) ==")
sinusoidal = sinusoidal_positions(T, C, dtype=np.float64)                             # (T, C)
speeds = 1.0 / 10000.0 ** (2.0 * np.arange(C // 2) / C)
print(f"column pair i turns at 1 / 10000^(2i/{C}) radians per position: the fastest "
      f"{speeds[0]:.3f}, the slowest {speeds[-1]:.6f}")
print(f"PE[0, :6] = {sinusoidal[0, :6]}  (sin 0 = 0, cos 0 = 1)")
print(f"PE[1, :6] = {sinusoidal[1, :6]}")
dots = sinusoidal @ sinusoidal.T                                                     # (T, T)
print(f"PE[t] . PE[t + k] depends only on k: the largest spread along any diagonal of the "
      f"{T} x {T} dot products is {spread_along_diagonals(dots):.1e}")
print(f"  k = 1: {dots[0, 1]:.4f} {dots[5, 6]:.4f}   k = 3: {dots[0, 3]:.4f} "
      f"{dots[4, 7]:.4f}   (each pair of columns adds cos(k * speed))")

# ---- 3. Rotary: turn q and k by their positions ----------------------------------------------
print(f"\n== 3. rotary positions: q and k turned, {D // 2} pairs of a head's {D} dimensions ==")
inverse_frequencies = rope_inverse_frequencies(D, THETA)                               # (D/2,)
print(f"angle per position of each pair (rope_theta {THETA:g}): {inverse_frequencies}")
generator = np.random.default_rng(1)
q = tt.tensor(generator.standard_normal((1, 1, 1, D)))          # (B, H, 1, D): one query
k = tt.tensor(generator.standard_normal((1, 1, 1, D)))          # and one key
positions = np.arange(T)
cos, sin = rotary_tables(positions, inverse_frequencies, dtype=np.float64)            # (T, D)
# The same q and k placed at every position: q turned by position m, k by position n.
# breakpoint: `cos.shape` (T, D), `q.shape`, then `n` and `q_at.shape` (1, 1, T, D),
#   `np.linalg.norm(q_at.data[0, 0], axis=1)` (the length never changes)
q_at = F.rotary_embedding(q.expand(1, 1, T, D), tt.tensor(cos), tt.tensor(sin))       # (1, 1, T, D)
k_at = F.rotary_embedding(k.expand(1, 1, T, D), tt.tensor(cos), tt.tensor(sin))
scores = (q_at.data[0, 0] @ k_at.data[0, 0].T)                                        # (T, T)
print(f"turning keeps lengths: |q| = {np.linalg.norm(q.data):.4f}, at every position "
      f"{np.linalg.norm(q_at.data[0, 0], axis=1).min():.4f} to "
      f"{np.linalg.norm(q_at.data[0, 0], axis=1).max():.4f}")
print("scores q_m . k_n for the same q and k at positions m (rows) and n (columns), 0..5:")
print(scores[:6, :6])
print(f"every diagonal is constant, so the score depends on m - n only: the largest spread "
      f"along any diagonal is {spread_along_diagonals(scores):.1e} (the angles are float32)")
shift = T // 3
print(f"q at 2, k at 0: {scores[2, 0]:.6f};  q at {2 + shift}, k at {shift}: "
      f"{scores[2 + shift, shift]:.6f}  (the same distance, the same score)")
print(f"while q . k unturned is {(q.data.ravel() @ k.data.ravel()):.6f}: position 0 "
      f"against position 0, distance 0: {scores[0, 0]:.6f}")

# ---- 4. Llama 3.1's scaling: slow pairs made slower -------------------------------------------
print("\n== 4. Llama 3.1's rope scaling: the slow pairs slowed for a longer context ==")
scaling = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
           "original_max_position_embeddings": 64}
plain = rope_inverse_frequencies(D, 500000.0)
scaled = rope_inverse_frequencies(D, 500000.0, scaling)
print(f"rope_theta 500,000, head size {D}, original context 64, factor 8:")
print(f"{'pair':>5} {'wavelength':>12} {'angle/position':>16} {'scaled':>12} {'ratio':>7}")
for i in range(D // 2):
    print(f"{i:5d} {2 * np.pi / plain[i]:12.1f} {plain[i]:16.8f} {scaled[i]:12.8f} "
          f"{plain[i] / scaled[i]:7.2f}")
print("fast pairs (wavelength under 16 positions) are kept; slow ones (over 64) turn 8 times "
      "slower; those between are blended")

# ---- 5. In a model ----------------------------------------------------------------------------
print("\n== 5. the same model with each kind of positions ==")
for kind in ("learned", "sinusoidal", "rotary"):
    config = GPTConfig(vocab_size=29, block_size=T, n_layer=1, n_head=2, n_embd=C,
                       positions=kind)
    model = GPT(config, seed=0)
    names = [name for name, _ in model.named_parameters() if "wpe" in name]
    logits, _ = model(np.arange(5)[None] % 29)
    print(f"{kind:11} {model.num_parameters():7,} parameters; position parameters: "
          f"{names or 'none'}; logits {logits.shape}")
