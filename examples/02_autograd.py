"""02 - Autograd: values, gradients, the graph behind them, a gradient check, a tiny MLP.

Every tensor made from tensors that require gradients remembers the op that made it. Calling
`backward()` on a scalar walks those ops from the end back to the leaves, applying the chain
rule once per op, and leaves d(scalar)/d(leaf) in each leaf's `.grad`.

Run it:              python examples/02_autograd.py
Smaller and faster:  EXAMPLES_FAST=1 python examples/02_autograd.py
In a debugger:       python -m pdb examples/02_autograd.py, and stop at a line marked
                     `breakpoint:` below (the README's debugger table lists them).
Then read tinytorch/autograd.py (the backward walk) and tinytorch/ops/elementwise.py (ops).
"""
import os

import numpy as np

import tinytorch as tt

FAST = os.environ.get("EXAMPLES_FAST") == "1"
STEPS = 150 if FAST else 1500
HIDDEN = 16 if FAST else 32

# ---- 1. Values and gradients -----------------------------------------------------------------
print("== 1. a small expression: L = (a * b + c)^2 ==")
a = tt.tensor(2.0, requires_grad=True)
b = tt.tensor(-3.0, requires_grad=True)
c = tt.tensor(10.0, requires_grad=True)
d = a * b + c
L = d * d
print(f"a = {a.item()}, b = {b.item()}, c = {c.item()}")
print(f"d = a * b + c = {d.item()}")
print(f"L = d * d = {L.item()}")
print(f"L remembers its op: {L!r}")
# breakpoint: `print(tt.graph.tree(L))` (the graph backward will walk), `a.grad` (nothing yet),
#   then `n` and `a.grad`, `b.grad`, `c.grad` (what the comments below work out by hand)
L.backward()
print("backward() fills .grad; by hand, with dL/dd = 2d = 8:")
print(f"dL/da = {a.grad.item()}   (2d * b = 8 * -3)")
print(f"dL/db = {b.grad.item()}   (2d * a = 8 * 2)")
print(f"dL/dc = {c.grad.item()}   (2d * 1)")

# ---- 2. The graph ----------------------------------------------------------------------------
print("\n== 2. the graph behind a tensor ==")
x = tt.tensor([1.0, -2.0, 3.0], requires_grad=True)
w = tt.tensor([0.5, 0.5, 0.5], requires_grad=True)
h = x * w
y = (h.tanh() + h).sum()
print("y = sum(tanh(x * w) + x * w); x * w is used twice, so it is printed once (#1):")
print(tt.graph.tree(y, {"x": x, "w": w}))
print("as Graphviz DOT (paste into any Graphviz viewer), first lines:")
print("\n".join(tt.graph.to_dot(y, {"x": x, "w": w}).splitlines()[:5]))
y.backward()
print(f"dy/dx = {np.array2string(x.grad, precision=4)}   (w * (1 - tanh^2(x w)) + w)")
print(f"after backward the graph is freed: {tt.graph.tree(y)}")

# ---- 3. A gradient check -----------------------------------------------------------------------
print("\n== 3. checking gradients against finite differences ==")


class Cube(tt.Function):
    """x^3, with the derivative 3x^2 written by hand."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3.0 * x ** 2


class BuggyCube(Cube):
    """The same forward, with a slip in backward: 2x^2 instead of 3x^2."""

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 2.0 * x ** 2


# Gradient checks run in float64: central differences need more digits than float32 has.
generator = np.random.default_rng(0)
x64 = tt.tensor(generator.standard_normal((3, 4)), requires_grad=True)
w64 = tt.tensor(generator.standard_normal((4, 2)), requires_grad=True)
print(f"gradcheck of tanh(x @ w).sum(): {tt.gradcheck(lambda x, w: (x @ w).tanh().sum(), [x64, w64])}")
print(f"gradcheck of Cube: {tt.gradcheck(Cube.apply, [x64])}")
try:
    tt.gradcheck(BuggyCube.apply, [x64])
except tt.GradcheckError as error:
    print(f"gradcheck of BuggyCube: {error}")

# ---- 4. A tiny MLP -------------------------------------------------------------------------------
print(f"\n== 4. a tiny MLP learns y = sin(x) ({STEPS} AdamW steps, {HIDDEN} hidden units) ==")
generator = np.random.default_rng(0)
inputs = np.linspace(-3.0, 3.0, 64, dtype=np.float32).reshape(-1, 1)      # (N, 1)
targets = np.sin(inputs)                                                   # (N, 1)
model = tt.nn.Sequential(tt.nn.Linear(1, HIDDEN, generator=generator), tt.nn.GELU(),
                         tt.nn.Linear(HIDDEN, 1, generator=generator))
print(model)
optimizer = tt.optim.AdamW(model.parameters(), lr=0.02, weight_decay=0.0)
x_batch, y_batch = tt.tensor(inputs), tt.tensor(targets)
for step in range(STEPS + 1):
    loss = ((model(x_batch) - y_batch) ** 2).mean()
    if step == 0:
        print("the loss's graph, parameters named as model.named_parameters() names them:")
        print(tt.graph.tree(loss, model.named_parameters()))
        first_loss = loss.item()
    optimizer.zero_grad()
    loss.backward()
    if step == 0:
        for name, p in model.named_parameters():
            print(f"  {name:10} {str(p.shape):8} grad norm {np.linalg.norm(p.grad):.4f}")
    if step < STEPS:                     # the last pass only measures
        optimizer.step()
    if step % (STEPS // 5) == 0:
        print(f"step {step:5}: loss {loss.item():.5f}")
print(f"loss fell from {first_loss:.5f} to {loss.item():.5f}")
with tt.no_grad():
    predictions = model(tt.tensor([[0.0], [1.5]], dtype=np.float32))
print(f"sin(0) = 0.000 and sin(1.5) = {np.sin(1.5):.3f}; the MLP says "
      f"{predictions.data[0, 0]:.3f} and {predictions.data[1, 0]:.3f}")
