"""03 - Backpropagation by hand: a two-layer network's gradients from the chain rule, in NumPy.

The network sorts points of the plane into three classes:

    hidden_pre = x @ W1^T + b1          x (N, D), W1 (H, D), b1 (H,)    -> (N, H)
    hidden     = tanh(hidden_pre)                                       -> (N, H)
    logits     = hidden @ W2^T + b2     W2 (K, H), b2 (K,)              -> (N, K)
    loss       = mean over n of -ln softmax(logits_n)[y_n]              -> a number

Backpropagation walks these lines from the bottom up. Each line gets the gradient of the loss
with respect to its output and hands back the gradients with respect to its inputs: the chain
rule, applied once per line. Nothing else is needed, and this file writes every step out. Then
tinytorch computes the same gradients from the same forward pass, and the two agree to the
last digits of float64.

Run it:              python examples/03_backprop_by_hand.py
Smaller and faster:  EXAMPLES_FAST=1 python examples/03_backprop_by_hand.py
In a debugger:       python -m pdb examples/03_backprop_by_hand.py, and stop at a line marked
                     `breakpoint:` below (the README's debugger table lists them).
Then read tinytorch/ops/matmul.py and tinytorch/ops/elementwise.py (each op's backward is one
of the lines below) and tinytorch/functional/loss.py (softmax + cross-entropy, fused).
"""
import os

import numpy as np

import tinytorch as tt
import tinytorch.functional as F

FAST = os.environ.get("EXAMPLES_FAST") == "1"
N = 12 if FAST else 96                  # points
D, H, K = 2, (8 if FAST else 32), 3      # inputs per point, hidden units, classes

np.set_printoptions(precision=4, suppress=True, linewidth=100)

# ---- 1. Data and parameters ---------------------------------------------------------------------
print("== 1. three clouds of points, and the parameters of a two-layer network ==")
# float64 everywhere: the hand and the tinytorch gradients should agree to ~1e-16, and
# float32's 7 digits would blur that to ~1e-7.
generator = np.random.default_rng(0)
y = np.arange(N) % K                                               # (N,) class of each point
angles = 2 * np.pi * y / K                                         # class k: angle 2 pi k / K
centres = np.stack([np.cos(angles), np.sin(angles)], axis=1)       # (N, D)
x = centres + 0.5 * generator.standard_normal((N, D))              # (N, D) float64
W1 = generator.standard_normal((H, D)) / np.sqrt(D)                # (out, in), as tt.nn.Linear
b1 = np.zeros(H)
W2 = generator.standard_normal((K, H)) / np.sqrt(H)
b2 = np.zeros(K)
print(f"x {x.shape} {x.dtype}, y {y.shape}: the first points "
      f"{np.round(x[:3], 3).tolist()} have classes {y[:3].tolist()}")
for name, value in [("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2)]:
    print(f"  {name} {str(value.shape):8} {value.dtype}")

# ---- 2. Forward, by hand ----------------------------------------------------------------------
print("\n== 2. forward ==")
hidden_pre = x @ W1.T + b1                                         # (N, H)
hidden = np.tanh(hidden_pre)                                       # (N, H)
logits = hidden @ W2.T + b2                                        # (N, K)
# softmax, shifted by each row's maximum so that exp cannot overflow (the shift cancels)
shifted = logits - logits.max(axis=1, keepdims=True)
probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)   # (N, K), rows sum to 1
loss = -np.mean(np.log(probs[np.arange(N), y]))                    # a number
for name, value in [("hidden_pre = x @ W1^T + b1", hidden_pre), ("hidden = tanh(hidden_pre)",
                    hidden), ("logits = hidden @ W2^T + b2", logits), ("probs = softmax(logits)",
                    probs)]:
    print(f"{name:30} {value.shape}")
print(f"probs[0] = {probs[0]} (class {y[0]}); every row sums to 1: "
      f"{np.allclose(probs.sum(axis=1), 1.0)}")
print(f"loss = mean of -ln probs[n, y[n]] = {loss:.12f}   (ln {K} = {np.log(K):.4f} is a guess)")

# ---- 3. Backward, by hand: the chain rule, one line at a time ----------------------------------
print("\n== 3. backward: each line turns d loss / d output into d loss / d inputs ==")
one_hot = np.eye(K)[y]                                             # (N, K), 1 at the true class
# loss = (1/N) sum_n [ln sum_k e^logits[n,k] - logits[n,y_n]], so
#   d loss / d logits[n, k] = (1/N) (e^logits[n,k] / sum_j e^logits[n,j] - [k == y_n])
#                           = (probs[n, k] - one_hot[n, k]) / N
# breakpoint: `probs[0]`, `y[0]`, `one_hot[0]`, then `n` and `grad_logits.shape`,
#   `grad_logits.sum(axis=1)` (each row sums to 0); step on with `n` and compare each
#   grad_* shape with its parameter's
grad_logits = (probs - one_hot) / N                                # (N, K)
# logits[n, k] = sum_h hidden[n, h] W2[k, h] + b2[k]
#   d loss / d W2[k, h]     = sum_n grad_logits[n, k] hidden[n, h]     -> grad_logits^T @ hidden
#   d loss / d b2[k]        = sum_n grad_logits[n, k]                  (b2 is added to every row)
#   d loss / d hidden[n, h] = sum_k grad_logits[n, k] W2[k, h]         -> grad_logits @ W2
grad_W2 = grad_logits.T @ hidden                                   # (K, H), the shape of W2
grad_b2 = grad_logits.sum(axis=0)                                  # (K,)
grad_hidden = grad_logits @ W2                                     # (N, H)
# hidden = tanh(hidden_pre), and tanh'(u) = 1 - tanh(u)^2: the forward's output is enough
grad_hidden_pre = grad_hidden * (1.0 - hidden ** 2)                # (N, H)
# hidden_pre[n, h] = sum_d x[n, d] W1[h, d] + b1[h]: the same pattern as the second layer
grad_W1 = grad_hidden_pre.T @ x                                    # (H, D)
grad_b1 = grad_hidden_pre.sum(axis=0)                              # (H,)
grad_x = grad_hidden_pre @ W1                                      # (N, D), not needed to learn
hand_grads = {"W1": grad_W1, "b1": grad_b1, "W2": grad_W2, "b2": grad_b2}
for name, value in [("grad_logits = (probs - one_hot) / N", grad_logits),
                    ("grad_W2 = grad_logits^T @ hidden", grad_W2),
                    ("grad_b2 = sum of grad_logits' rows", grad_b2),
                    ("grad_hidden = grad_logits @ W2", grad_hidden),
                    ("grad_hidden_pre = ... * (1 - hidden^2)", grad_hidden_pre),
                    ("grad_W1 = grad_hidden_pre^T @ x", grad_W1),
                    ("grad_b1 = sum of grad_hidden_pre's rows", grad_b1),
                    ("grad_x = grad_hidden_pre @ W1", grad_x)]:
    print(f"{name:40} {value.shape}")
print(f"grad_logits[0] = {grad_logits[0] * N} / N: "
      f"negative only at the true class {y[0]}, pushing its logit up")
print(f"each row of grad_logits sums to 0: {np.allclose(grad_logits.sum(axis=1), 0.0)}")

# ---- 4. The same network in tinytorch ----------------------------------------------------------
print("\n== 4. tinytorch: the same forward pass, then loss.backward() ==")
params = {name: tt.tensor(value, requires_grad=True)                # float64 leaves
          for name, value in [("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2)]}
x_t = tt.tensor(x, requires_grad=True)
logits_t = F.linear(F.linear(x_t, params["W1"], params["b1"]).tanh(), params["W2"], params["b2"])
logits_t.retain_grad()                # keep d loss / d logits too, to compare with grad_logits
loss_t = F.cross_entropy(logits_t, y)
print(tt.graph.tree(loss_t, {**params, "x": x_t}))
loss_t.backward()
print(f"loss: by hand {loss:.12f}, tinytorch {loss_t.item():.12f}, "
      f"|difference| {abs(loss - loss_t.item()):.1e}")
print("max |hand gradient - tinytorch gradient|, per tensor:")
library_grads = {name: p.grad for name, p in params.items()}
library_grads.update(logits=logits_t.grad, x=x_t.grad)
for name, hand in [*hand_grads.items(), ("logits", grad_logits), ("x", grad_x)]:
    print(f"  {name:6} {str(hand.shape):8} {np.max(np.abs(hand - library_grads[name])):.3e}")

# ---- 5. Checking one element with finite differences -----------------------------------------
print("\n== 5. the slope, measured: (loss(W + eps) - loss(W - eps)) / (2 eps) ==")


def loss_at(W1, b1, W2, b2):
    """The forward pass of section 2 again, for other parameter values."""
    logits = np.tanh(x @ W1.T + b1) @ W2.T + b2
    shifted = logits - logits.max(axis=1, keepdims=True)
    return -np.mean(shifted[np.arange(N), y] - np.log(np.exp(shifted).sum(axis=1)))


eps = 1e-6
for name, index in [("W1", (0, 1)), ("b1", (2,)), ("W2", (1, 3)), ("b2", (0,))]:
    values = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    up = {key: value.copy() for key, value in values.items()}
    down = {key: value.copy() for key, value in values.items()}
    up[name][index] += eps
    down[name][index] -= eps
    numeric = (loss_at(**up) - loss_at(**down)) / (2 * eps)
    print(f"  d loss / d {name}{list(index)}: by hand {hand_grads[name][index]: .10f}, "
          f"measured {numeric: .10f}")

# ---- 6. The gradients point uphill: one step against them lowers the loss ---------------------
print("\n== 6. one gradient-descent step with the hand gradients ==")
lr = 0.5
new_loss = loss_at(W1 - lr * grad_W1, b1 - lr * grad_b1, W2 - lr * grad_W2, b2 - lr * grad_b2)
print(f"loss {loss:.6f} -> {new_loss:.6f} after W -= {lr} * grad for every parameter")
