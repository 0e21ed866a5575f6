"""dtype discipline (DESIGN.md, principle 4): float32 in gives float32 out, and float32
gradients, for every op and every fused kernel; float64 in gives float64.

NumPy 2 turns a float32 array mixed with a NumPy float64 *scalar* (`np.sqrt(4)`,
`np.float64(eps)`) into float64, about 5x slower; the cases below include such scalars on
either side of every operator.
"""
import math

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.functional as F
from tinytorch.functional import composed
from gradcheck_cases import graph_nodes

MASK = np.array([True, False, True, False])

# name: (function of the tensors, their shapes, values "normal" or "positive")
CASES = {
    "x + y": (lambda x, y: x + y, [(3, 4), (4,)]),
    "x - y": (lambda x, y: x - y, [(3, 4), (3, 1)]),
    "x * y": (lambda x, y: x * y, [(3, 4), (4,)]),
    "x / y": (lambda x, y: x / y, [(3, 4), (4,)], "positive"),
    "-x": (lambda x: -x, [(3, 4)]),
    "x ** 2": (lambda x: x ** 2, [(3, 4)]),
    "x ** 0.5": (lambda x: x ** 0.5, [(3, 4)], "positive"),
    "2.0 ** x": (lambda x: 2.0 ** x, [(3, 4)]),
    "exp": (lambda x: x.exp(), [(3, 4)]),
    "log": (lambda x: x.log(), [(3, 4)], "positive"),
    "sqrt": (lambda x: x.sqrt(), [(3, 4)], "positive"),
    "tanh": (lambda x: x.tanh(), [(3, 4)]),
    "relu": (lambda x: x.relu(), [(3, 4)]),
    "sigmoid": (lambda x: x.sigmoid(), [(3, 4)]),
    "sum": (lambda x: x.sum(dim=1), [(3, 4)]),
    "mean": (lambda x: x.mean(dim=(0, 1), keepdim=True), [(3, 4)]),
    "var": (lambda x: x.var(dim=-1), [(3, 4)]),
    "var correction=0": (lambda x: x.var(correction=0), [(3, 4)]),
    "max": (lambda x: x.max(dim=0), [(3, 4)]),
    "max of all": (lambda x: x.max(), [(3, 4)]),
    "matmul": (lambda a, b: a @ b, [(2, 3, 4), (4, 5)]),
    "matmul batched": (lambda a, b: a @ b, [(2, 3, 4), (2, 4, 5)]),
    "matmul vectors": (lambda a, b: a @ b, [(4,), (4,)]),
    "reshape": (lambda x: x.reshape(4, 3), [(3, 4)]),
    "transpose": (lambda x: x.transpose(0, 1), [(3, 4)]),
    "permute": (lambda x: x.permute(1, 0), [(3, 4)]),
    "unsqueeze": (lambda x: x.unsqueeze(1), [(3, 4)]),
    "squeeze": (lambda x: x.squeeze(), [(3, 1, 4)]),
    "expand": (lambda x: x.expand(2, 3, 4), [(3, 1)]),
    "index": (lambda x: x[np.array([0, 2, 0]), 1:], [(3, 4)]),
    "masked_fill": (lambda x: x.masked_fill(MASK, -1.0), [(3, 4)]),
    "where": (lambda a, b: tt.where(MASK, a, b), [(3, 4), (4,)]),
    "cat": (lambda a, b: tt.cat([a, b], dim=1), [(3, 4), (3, 2)]),
    "stack": (lambda a, b: tt.stack([a, b]), [(3, 4), (3, 4)]),
    "split": (lambda x: x.split([1, 3], dim=1)[1], [(3, 4)]),
    # Python numbers and NumPy float64 scalars as operands, on either side
    "x * 0.5": (lambda x: x * 0.5, [(3, 4)]),
    "x + 1 (int)": (lambda x: x + 1, [(3, 4)]),
    "x * np.float64(2.0)": (lambda x: x * np.float64(2.0), [(3, 4)]),
    "np.float64(2.0) * x": (lambda x: np.float64(2.0) * x, [(3, 4)]),
    "x / np.sqrt(4)": (lambda x: x / np.sqrt(4), [(3, 4)]),
    "np.sqrt(4) / x": (lambda x: np.sqrt(4) / x, [(3, 4)], "positive"),
    "x + np.float64(1e-5)": (lambda x: x + np.float64(1e-5), [(3, 4)]),
    "np.float64(1.0) - x": (lambda x: np.float64(1.0) - x, [(3, 4)]),
    "x ** np.float64(2.0)": (lambda x: x ** np.float64(2.0), [(3, 4)]),
    "x ** np.int64(3)": (lambda x: x ** np.int64(3), [(3, 4)]),
    "x * np.float32(2.0)": (lambda x: x * np.float32(2.0), [(3, 4)]),
    "where with np.float64 fill": (lambda x: tt.where(MASK, x, np.float64(0.0)), [(3, 4)]),
    "where with Python fill": (lambda x: tt.where(MASK, 1.0, x), [(3, 4)]),
    "masked_fill np.float64": (lambda x: x.masked_fill(MASK, np.float64(-1e9)), [(3, 4)]),
    # the fused kernels and their composed twins
    **{f"{name} {label}": case for label, module in (("fused", F), ("composed", composed))
       for name, case in {
           "softmax": (lambda x, m=module: m.softmax(x, dim=-1), [(3, 4)]),
           "log_softmax": (lambda x, m=module: m.log_softmax(x, dim=0), [(3, 4)]),
           "cross_entropy": (lambda x, m=module: m.cross_entropy(x, np.array([1, -100, 3])),
                             [(3, 4)]),
           "cross_entropy sum": (lambda x, m=module: m.cross_entropy(
               x, np.array([1, 0, 3]), reduction="sum"), [(3, 4)]),
           "cross_entropy none": (lambda x, m=module: m.cross_entropy(
               x, np.array([1, 0, 3]), reduction="none"), [(3, 4)]),
           "gelu": (lambda x, m=module: m.gelu(x), [(3, 4)]),
           "layer_norm": (lambda x, w, b, m=module: m.layer_norm(x, (4,), w, b),
                          [(3, 4), (4,), (4,)]),
           "layer_norm 2-d": (lambda x, m=module: m.layer_norm(x, (3, 4)), [(2, 3, 4)]),
           "linear": (lambda x, w, b, m=module: m.linear(x, w, b), [(2, 3, 4), (5, 4), (5,)]),
           "linear 1-d": (lambda x, w, m=module: m.linear(x, w), [(4,), (5, 4)]),
           "embedding": (lambda w, m=module: m.embedding(np.array([[0, 2], [2, 1]]), w),
                         [(3, 4)]),
           "dropout": (lambda x, m=module: m.dropout(x, 0.3, generator=np.random.default_rng(0)),
                       [(3, 4)]),
           "attention": (lambda q, k, v, m=module: m.scaled_dot_product_attention(
               q, k, v, is_causal=True, dropout_p=0.2, generator=np.random.default_rng(0)),
               [(1, 2, 2, 4), (1, 2, 3, 4), (1, 2, 3, 4)]),
           "attention grouped": (lambda q, k, v, m=module: m.scaled_dot_product_attention(
               q, k, v, is_causal=True, dropout_p=0.2, generator=np.random.default_rng(0),
               enable_gqa=True, scale=np.float64(0.3)),
               [(1, 4, 2, 4), (1, 2, 3, 4), (1, 2, 3, 4)]),
           "silu": (lambda x, m=module: m.silu(x), [(3, 4)]),
           "rms_norm": (lambda x, w, m=module: m.rms_norm(x, (4,), w, eps=np.float64(1e-6)),
                        [(3, 4), (4,)]),
           "rms_norm default eps": (lambda x, m=module: m.rms_norm(x, (3, 4)), [(2, 3, 4)]),
           "rotary_embedding": (lambda x, cos, sin, m=module: m.rotary_embedding(x, cos, sin),
                                [(2, 2, 3, 4), (3, 4), (3, 4)]),
           "gelu_mlp": (lambda x, w1, b1, w2, b2, m=module: m.gelu_mlp(x, w1, b1, w2, b2),
                        [(2, 3, 4), (8, 4), (8,), (5, 8), (5,)]),
           "swiglu_mlp": (lambda x, wg, wu, wd, m=module: m.swiglu_mlp(x, wg, wu, wd),
                          [(2, 3, 4), (6, 4), (6, 4), (4, 6)]),
           "swiglu_mlp biases": (lambda x, wg, wu, wd, bg, bu, bd, m=module: m.swiglu_mlp(
               x, wg, wu, wd, bg, bu, bd), [(3, 4), (6, 4), (6, 4), (4, 6), (6,), (6,), (4,)]),
           "sequence_log_prob": (lambda x, m=module: m.sequence_log_prob(
               x, np.array([[1, -100, 3], [0, 2, -100]])), [(2, 3, 4)]),
           "dpo_loss": (lambda pc, pr, rc, rr, m=module: m.dpo_loss(
               pc, pr, rc, rr, beta=np.float64(0.1)), [(3,), (3,), (3,), (3,)]),
           "dpo_loss none": (lambda pc, pr, rc, rr, m=module: m.dpo_loss(
               pc, pr, rc, rr, reduction="none"), [(3,), (3,), (3,), (3,)]),
       }.items()},
}


def make_inputs(shapes, kind, dtype):
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(shape) for shape in shapes]
    if kind == "positive":
        values = [0.5 + np.abs(v) for v in values]
    return [tt.tensor(v, dtype=dtype, requires_grad=True) for v in values]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CASES)
def test_the_dtype_in_is_the_dtype_out_and_of_every_gradient(name, dtype):
    fn, shapes, *kind = CASES[name]
    inputs = make_inputs(shapes, kind[0] if kind else "normal", dtype)
    out = fn(*inputs)
    assert isinstance(out, tt.Tensor)
    assert out.dtype == dtype, f"{name}: {np.dtype(dtype).name} in, {out.dtype} out"
    assert out.data.dtype == dtype
    out.backward(np.ones(out.shape, dtype))
    for i, x in enumerate(inputs):
        grad_dtype = None if x.grad is None else x.grad.dtype
        assert grad_dtype == dtype, f"{name}: input {i} is {x.dtype}, its gradient {grad_dtype}"


def each_backward(out):
    """(node, input, gradient) for every tensor input of every node behind `out`, from the
    node's own backward called directly, before the engine does anything with the result."""
    seen, stack = set(), [out]
    while stack:
        tensor = stack.pop()
        node = tensor._node
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if node.n_outputs == 1:
            output_grads = [np.ones(tensor.shape, tensor.dtype)]
        else:
            output_grads = [np.ones(shape, dtype) for shape, dtype in node.output_shapes]
        input_grads = node.fn.backward(node, *output_grads)
        input_grads = input_grads if isinstance(input_grads, tuple) else (input_grads,)
        for inp, grad in zip(node.inputs, input_grads):
            if isinstance(inp, tt.Tensor):
                stack.append(inp)
                if grad is not None:
                    yield node, inp, grad


@pytest.mark.parametrize("name", CASES)
def test_every_backward_computes_in_float32_itself(name):
    """The engine casts a gradient to its input's dtype, but a backward that promoted to
    float64 inside has already paid for float64 arithmetic (about 5x slower)."""
    fn, shapes, *kind = CASES[name]
    out = fn(*make_inputs(shapes, kind[0] if kind else "normal", np.float32))
    for node, inp, grad in each_backward(out):
        assert np.asarray(grad).dtype == inp.dtype == np.float32, \
            f"{node.fn.__name__}.backward returned {np.asarray(grad).dtype} for a float32 input"


def test_the_table_covers_every_function_in_tinytorch():
    def subclasses(cls):
        return [cls] + [s for sub in cls.__subclasses__() for s in subclasses(sub)]

    library = {cls for cls in subclasses(tt.Function)[1:]
               if cls.__module__.startswith("tinytorch.")}
    covered = set()
    for name, (fn, shapes, *kind) in CASES.items():
        covered |= {node.fn for node in graph_nodes(fn(*make_inputs(shapes, "positive",
                                                                    np.float32)))}
    covered.add(tt.ops.Cast)                     # tested on its own below
    missing = sorted(cls.__name__ for cls in library - covered)
    assert not missing, f"no dtype case uses {missing}"


def test_cast_changes_the_dtype_and_its_gradient_comes_back_in_the_input_dtype():
    x = tt.tensor([1.0, 2.0], dtype=np.float32, requires_grad=True)
    y = x.to(np.float64)
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32
    z = tt.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    z.to(np.float32).sum().backward()
    assert z.grad.dtype == np.float64


def test_a_float32_input_mixed_with_a_float64_tensor_still_gets_a_float32_gradient():
    """As in PyTorch, the result promotes to float64, but a gradient always has its tensor's
    dtype: an optimizer step must not turn float32 parameters into float64."""
    x = tt.tensor([1.0, 2.0], dtype=np.float32, requires_grad=True)
    y = tt.tensor([3.0, 4.0], dtype=np.float64, requires_grad=True)
    out = x * y
    assert out.dtype == np.float64
    out.sum().backward()
    assert x.grad.dtype == np.float32 and y.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


def test_float_defaults_are_float32_and_arrays_keep_their_dtype():
    assert tt.tensor([1.0, 2.0]).dtype == np.float32
    assert tt.tensor(1.5).dtype == np.float32
    assert tt.tensor([[1, 2]], dtype=np.float32).dtype == np.float32
    assert tt.tensor(np.array([1.0])).dtype == np.float64
    assert tt.tensor(np.float64(1.0)).dtype == np.float64
    assert tt.tensor([1, 2]).dtype == np.int64
    assert tt.zeros(2).dtype == tt.ones(2).dtype == tt.randn(2).dtype == np.float32
    assert tt.zeros(2, dtype=np.float64).dtype == np.float64
    assert tt.randn(2, generator=np.random.default_rng(0), dtype=np.float64).dtype == np.float64
    assert tt.arange(3).dtype == np.int64
    assert tt.arange(0.0, 1.0, 0.5).dtype == np.float32


def test_attention_scale_does_not_promote():
    """The 1/sqrt(D) scale is the classic way to get float64 by accident."""
    q = tt.tensor(np.ones((1, 1, 2, 4)), dtype=np.float32, requires_grad=True)
    assert (q * (1.0 / math.sqrt(4))).dtype == np.float32
    assert F.scaled_dot_product_attention(q, q, q).dtype == np.float32
