"""07 - Attention: how each token gathers information from the tokens before it.

Every token asks a question (its query q), advertises what it holds (its key k) and offers
a message (its value v). Token i scores every token j by q_i . k_j / sqrt(D), the causal
mask forbids looking ahead (j > i), softmax turns each row of scores into weights that sum
to 1, and token i's output is the weighted average of the values:

    out = softmax(Q K^T / sqrt(D) + mask) V        Q, K, V (T, D);  out (T, D)

Run it:              python examples/07_attention.py
Smaller and faster:  EXAMPLES_FAST=1 python examples/07_attention.py
In a debugger:       python -m pdb examples/07_attention.py, and stop at a line marked
                     `breakpoint:` below (the README's debugger table lists them).
Then read tinytorch/functional/composed.py (scaled_dot_product_attention, op by op),
tinytorch/functional/attention.py (the fused kernel and its backward) and the
CausalSelfAttention class in gpt/model.py.
"""
import math
import os

import numpy as np

import tinytorch as tt
import tinytorch.functional as F
import tinytorch.functional.composed as composed

FAST = os.environ.get("EXAMPLES_FAST") == "1"
# the batch of random attention problems on which section 5 compares the two kernels
COMPARE_SHAPE = (2, 3, 5, 4) if FAST else (3, 4, 32, 16)       # (B, H, T, D)


def show(name, tensor):
    """Print a tensor's name, shape and values, three decimals, one row per line."""
    values = np.array2string(np.asarray(tensor.data), precision=3, suppress_small=True,
                             floatmode="fixed", sign=" ")
    print(f"{name} {tensor.shape}:\n{values}")


np.set_printoptions(linewidth=100)

# ---- 1. Q, K and V for four tokens ------------------------------------------------------------
print("== 1. four tokens, each with a query, a key and a value ==")
tokens = ["the", "cat", "sat", "down"]
T, C, D = 4, 6, 3            # tokens, width of each token's vector, head size
generator = np.random.default_rng(0)
x = tt.tensor(generator.standard_normal((T, C)), dtype=np.float32)       # (T, C) the input
# Q, K and V are three different linear views of the same input. Here the projection
# matrices are fixed random numbers; in a model they are learned (section 3).
w_q, w_k, w_v = (tt.tensor(generator.standard_normal((C, D)) / math.sqrt(C), dtype=np.float32)
                 for _ in range(3))
q, k, v = x @ w_q, x @ w_k, x @ w_v                                        # (T, D) each
print(f"tokens: {tokens}")
show("x", x)
show("Q = x @ w_q", q)
show("K = x @ w_k", k)
show("V = x @ w_v", v)

# ---- 2. Scores, mask, softmax, output -----------------------------------------------------------
print("\n== 2. scores, the causal mask, softmax, the weighted sum ==")
# Dividing by sqrt(D) keeps the scores' spread near 1 whatever the head size: a dot product
# of D unit-variance terms has variance D, and large scores would make softmax nearly one-hot.
# breakpoint: `q.shape` (T, D), `k.shape`, then `n` and `scores.shape` (T, T), `scores`
scores = q @ k.transpose(0, 1) * (1.0 / math.sqrt(D))                     # (T, T)
show(f"scores = Q @ K^T / sqrt({D}); row i = query of token i, column j = key of token j",
     scores)
mask = F.causal_mask(T, T)                                                  # (T, T) bool
print(f"causal mask (True = may NOT look: the key comes after the query):\n{mask}")
masked_scores = scores.masked_fill(mask, float("-inf"))
show("masked scores (e^-inf = 0, so the future gets no weight)", masked_scores)
att_weights = F.softmax(masked_scores, dim=-1)                              # (T, T)
show("att_weights = softmax(masked scores) along each row", att_weights)
print(f"each row sums to 1: {np.round(att_weights.data.sum(axis=-1), 6).tolist()}")
print(f"zeros above the diagonal: {bool(np.all(att_weights.data[mask] == 0.0))}")
print(f"token 0 ({tokens[0]!r}) can only attend to itself: weight {att_weights.data[0, 0]:.3f}")
out = att_weights @ v                                                       # (T, D)
show("out = att_weights @ V; row i is a weighted average of V's rows 0..i", out)
by_hand = att_weights.data[1, 0] * v.data[0] + att_weights.data[1, 1] * v.data[1]
print(f"row 1 by hand: {att_weights.data[1, 0]:.3f} * V[0] + {att_weights.data[1, 1]:.3f} * V[1] = "
      f"{np.array2string(by_hand, precision=3, floatmode='fixed', sign=' ')}")

# ---- 3. One head with trainable weights, one gradient step --------------------------------------
print("\n== 3. a single head whose projections are learned ==")
generator = np.random.default_rng(1)
query = tt.nn.Linear(C, D, bias=False, generator=generator)     # weight (D, C), as in PyTorch
key = tt.nn.Linear(C, D, bias=False, generator=generator)
value = tt.nn.Linear(C, D, bias=False, generator=generator)
parameters = [("query.weight", query.weight), ("key.weight", key.weight),
              ("value.weight", value.weight)]
target = tt.tensor(generator.standard_normal((T, D)), dtype=np.float32)    # what out should be
optimizer = tt.optim.SGD([p for _, p in parameters], lr=0.5)


def attention_loss():
    q, k, v = query(x), key(x), value(x)                                    # (T, D) each
    scores = q @ k.transpose(0, 1) * (1.0 / math.sqrt(D))
    att_weights = F.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)
    return ((att_weights @ v - target) ** 2).mean(), att_weights


loss, att_weights = attention_loss()
show("att_weights before the step", att_weights)
print(f"loss before: {loss.item():.6f}")
loss.backward()
for name, p in parameters:
    print(f"  {name:12} {p.shape}  grad norm {np.linalg.norm(p.grad):.4f}")
optimizer.step()
optimizer.zero_grad()
loss_after, att_weights = attention_loss()
show("att_weights after one SGD step (still causal, rows still sum to 1)", att_weights)
print(f"loss after:  {loss_after.item():.6f}")

# ---- 4. Several heads ----------------------------------------------------------------------------
print("\n== 4. several heads: one projection, then reshape and transpose ==")
B, H = 5, 3                            # sizes all distinct: each axis is recognisable
head_size = C // H                     # the heads share the width: H * head_size == C
x_batch = tt.tensor(np.random.default_rng(2).standard_normal((B, T, C)), dtype=np.float32)
c_attn = tt.nn.Linear(C, 3 * C, generator=np.random.default_rng(3))   # q, k, v for all heads
qkv = c_attn(x_batch)
print(f"{'x':34} {str(x_batch.shape):14} (B, T, C)")
print(f"{'qkv = c_attn(x)':34} {str(qkv.shape):14} (B, T, 3C)")
q, k, v = qkv.split(C, dim=2)
print(f"{'q, k, v = qkv.split(C, dim=2)':34} {str(q.shape):14} (B, T, C) each")
q = q.reshape(B, T, H, head_size)
print(f"{'q.reshape(B, T, H, D)':34} {str(q.shape):14} (B, T, H, D)")
q = q.transpose(1, 2)
print(f"{'q.transpose(1, 2)':34} {str(q.shape):14} (B, H, T, D): each head is a batch of its own")
k = k.reshape(B, T, H, head_size).transpose(1, 2)
v = v.reshape(B, T, H, head_size).transpose(1, 2)
scores = q @ k.transpose(-2, -1) * (1.0 / math.sqrt(head_size))
print(f"{'q @ k^T / sqrt(D)':34} {str(scores.shape):14} (B, H, T, T): one score table per head")
att_weights = F.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)
for h in range(H):
    show(f"batch 0, head {h}: att_weights", att_weights[0, h])
y = att_weights @ v
print(f"{'y = att_weights @ v':34} {str(y.shape):14} (B, H, T, D)")
y = y.transpose(1, 2).reshape(B, T, C)
print(f"{'y.transpose(1, 2).reshape(B, T, C)':34} {str(y.shape):14} (B, T, C): heads side by side")

# ---- 5. The fused kernel and its composed twin ---------------------------------------------------
print("\n== 5. the same attention: fused kernel vs composed from primitive ops ==")
generator = np.random.default_rng(4)
# float64, as every gradient comparison here: float32's 7 digits would hide a real mistake
q, k, v = (tt.tensor(generator.standard_normal(COMPARE_SHAPE), requires_grad=True)
           for _ in range(3))
q2, k2, v2 = (tt.tensor(t.data, requires_grad=True) for t in (q, k, v))
grad_out = generator.standard_normal(COMPARE_SHAPE)     # the same upstream gradient for both
print(f"q, k, v: {COMPARE_SHAPE} (B, H, T, D), {q.dtype}")

out_fused = F.scaled_dot_product_attention(q, k, v, is_causal=True)
out_composed = composed.scaled_dot_product_attention(q2, k2, v2, is_causal=True)
fused_nodes = list(tt.graph.nodes(out_fused))
composed_nodes = list(tt.graph.nodes(out_composed))
print(f"fused graph:    {len(fused_nodes)} node  ({', '.join(n.fn.__name__ for n in fused_nodes)})")
print(f"composed graph: {len(composed_nodes)} nodes "
      f"({', '.join(sorted({n.fn.__name__ for n in composed_nodes}))})")
print("the composed graph, op by op (the output on top, q, k and v at the leaves):")
print(tt.graph.tree(out_composed, {"q": q2, "k": k2, "v": v2}))
print(f"max |out fused - out composed|: {np.max(np.abs(out_fused.data - out_composed.data)):.3e}")

out_fused.backward(grad_out)
out_composed.backward(grad_out)
for name, fused, twin in [("q", q, q2), ("k", k, k2), ("v", v, v2)]:
    print(f"max |d{name} fused - d{name} composed|: {np.max(np.abs(fused.grad - twin.grad)):.3e}")


def fused_attention(q, k, v):
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


# Finite differences cost two forward passes per element, so check a random sample of them.
print(f"gradcheck of the fused kernel (20 elements of each input): "
      f"{tt.gradcheck(fused_attention, [q, k, v], n_samples=20)}")
