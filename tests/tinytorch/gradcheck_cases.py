"""One gradient check per `Function` subclass: the registry `CASES` maps each class to a case.

test_function_coverage.py fails, naming the class, when a Function in tinytorch has no entry
here, runs every entry, and checks that each case really builds a node of the class
it is registered for. The Hypothesis tests in test_ops.py and test_functional.py then check
the same ops over many shapes; the cases here are small, fixed and quick to read.

To add an op: write a `case_...` function below and add `YourFunction: case_...` to CASES.
"""
import numpy as np

import tinytorch as tt
import tinytorch.functional as F
from tinytorch import ops
from tinytorch.functional.activations import GELU, LogSoftmax, SiLU, Softmax
from tinytorch.functional.attention import ScaledDotProductAttention
from tinytorch.functional.dropout import Dropout
from tinytorch.functional.embedding import Embedding
from tinytorch.functional.linear import Linear
from tinytorch.functional.loss import CrossEntropy
from tinytorch.functional.mlp import GeluMLP, SwiGLUMLP
from tinytorch.functional.normalization import LayerNorm, RMSNorm
from tinytorch.functional.preference import DPOLoss, SequenceLogProb
from tinytorch.functional.rotary import RotaryEmbedding
from tinytorch.graph import nodes

from strategies import leaves

# Each element costs two forward passes: check this many per input (all of them if fewer).
N_SAMPLES = 20


def graph_nodes(tensor):
    """Every graph node behind `tensor` (the op that made it and all before), each once.
    Leaves have no node; `node.fn` is the Function class, `node.inputs` its arguments."""
    return list(nodes(tensor))


def _float_outputs(result):
    outputs = result if isinstance(result, (tuple, list)) else (result,)
    return [out for out in outputs if isinstance(out, tt.Tensor) and out.requires_grad]


def check_gradients(fn, *inputs, n_samples=N_SAMPLES, **gradcheck_options):
    """Gradcheck `fn(*inputs)` and check the shape and dtype of every input's gradient.

    First a plain forward and backward (every output weighted by random numbers): each input
    that requires a gradient must get one of exactly its own shape and dtype (broadcasting is
    undone by the engine, never left to the caller). Then `tt.gradcheck` compares against
    central differences. Returns the set of Function classes the forward pass used.
    """
    outputs = _float_outputs(fn(*inputs))
    used = {node.fn for out in outputs for node in graph_nodes(out)}
    rng = np.random.default_rng(1)
    total = sum((out * rng.standard_normal(out.shape)).sum() for out in outputs)
    total.backward()
    for i, tensor in enumerate(inputs):
        if isinstance(tensor, tt.Tensor) and tensor.requires_grad:
            assert tensor.grad is not None, f"input {i} got no gradient"
            assert tensor.grad.shape == tensor.shape, \
                f"input {i}: gradient shape {tensor.grad.shape} != input shape {tensor.shape}"
            assert tensor.grad.dtype == tensor.dtype, \
                f"input {i}: gradient dtype {tensor.grad.dtype} != input dtype {tensor.dtype}"
            tensor.grad = None
    assert tt.gradcheck(fn, inputs, n_samples=n_samples, **gradcheck_options)
    return used


# ----- primitive ops (tinytorch.ops) ----------------------------------------------------------

def case_add():
    return check_gradients(lambda a, b: a + b, *leaves(0, (2, 3), (3,)))


def case_sub():
    return check_gradients(lambda a, b: a - b, *leaves(1, (2, 1), (2, 3)))


def case_mul():
    return check_gradients(lambda a, b: a * b, *leaves(2, (4, 1, 3), (2, 1)))


def case_div():
    a, = leaves(3, (2, 3))
    b, = leaves(4, (3,), kind="nonzero")
    return check_gradients(lambda a, b: a / b, a, b)


def case_neg():
    return check_gradients(lambda x: -x, *leaves(5, (2, 3)))


def case_pow():
    return check_gradients(lambda x: x ** 1.5, *leaves(6, (2, 3), kind="positive"))


def case_exp():
    return check_gradients(lambda x: x.exp(), *leaves(7, (2, 3)))


def case_log():
    return check_gradients(lambda x: x.log(), *leaves(8, (2, 3), kind="positive"))


def case_sqrt():
    return check_gradients(lambda x: x.sqrt(), *leaves(9, (2, 3), kind="positive"))


def case_tanh():
    return check_gradients(lambda x: x.tanh(), *leaves(10, (2, 3)))


def case_relu():
    return check_gradients(lambda x: x.relu(), *leaves(11, (2, 3)))


def case_sigmoid():
    return check_gradients(lambda x: x.sigmoid(), *leaves(12, (2, 3)))


def case_cast():
    # float64 -> float32 -> float64: the float32 step rounds to 7 digits, so a large step
    # (exact for a linear function) keeps the numeric derivative clear of that rounding.
    return check_gradients(lambda x: x.to(np.float32).to(np.float64), *leaves(13, (2, 3)),
                           eps=1e-2)


def case_sum():
    return check_gradients(lambda x: x.sum(dim=(0, 2)), *leaves(14, (2, 3, 4)))


def case_mean():
    return check_gradients(lambda x: x.mean(dim=-1, keepdim=True), *leaves(15, (2, 3)))


def case_var():
    return check_gradients(lambda x: x.var(dim=1), *leaves(16, (2, 4)))


def case_max():
    return check_gradients(lambda x: x.max(dim=0), *leaves(17, (3, 4)))


def case_matmul():
    return check_gradients(lambda a, b: a @ b, *leaves(18, (2, 1, 3, 4), (3, 4, 2)))


def case_reshape():
    return check_gradients(lambda x: x.reshape(3, -1), *leaves(19, (2, 3, 2)))


def case_transpose():
    return check_gradients(lambda x: x.transpose(0, 2), *leaves(20, (2, 3, 4)))


def case_permute():
    return check_gradients(lambda x: x.permute(2, 0, 1), *leaves(21, (2, 3, 4)))


def case_expand():
    return check_gradients(lambda x: x.expand(2, 3, 4), *leaves(22, (3, 1)))


def case_getitem():
    return check_gradients(lambda x: x[np.array([0, 2, 0]), 1:], *leaves(23, (3, 4)))


def case_masked_fill():
    mask = np.array([True, False, True, False])
    return check_gradients(lambda x: x.masked_fill(mask, -1.0), *leaves(24, (3, 4)))


def case_where():
    condition = np.array([[True], [False]])
    return check_gradients(lambda a, b: tt.where(condition, a, b), *leaves(25, (2, 3), (3,)))


def case_cat():
    return check_gradients(lambda a, b: tt.cat([a, b], dim=1), *leaves(26, (2, 3), (2, 1)))


def case_stack():
    return check_gradients(lambda a, b: tt.stack([a, b], dim=-1), *leaves(27, (2, 3), (2, 3)))


def case_split():
    # Only the first and last pieces are used: the middle one gets a zero gradient.
    def first_and_last(x):
        first, _, last = x.split([1, 2, 1], dim=1)
        return first * last
    return check_gradients(first_and_last, *leaves(28, (2, 4)))


# ----- fused kernels (tinytorch.functional) ---------------------------------------------------

def case_softmax():
    return check_gradients(lambda x: F.softmax(x, dim=-1), *leaves(30, (2, 5)))


def case_log_softmax():
    return check_gradients(lambda x: F.log_softmax(x, dim=0), *leaves(31, (4, 3)))


def case_cross_entropy():
    target = np.array([2, -100, 0, 1])
    return check_gradients(lambda x: F.cross_entropy(x, target), *leaves(32, (4, 3)))


def case_gelu():
    return check_gradients(lambda x: F.gelu(x), *leaves(33, (2, 5)))


def case_layer_norm():
    x, weight, bias = leaves(34, (2, 3, 4), (4,), (4,))
    return check_gradients(lambda x, w, b: F.layer_norm(x, (4,), w, b), x, weight, bias)


def case_linear():
    return check_gradients(F.linear, *leaves(35, (2, 3, 4), (5, 4), (5,)))


def case_embedding():
    ids = np.array([[0, 2, 2], [1, 0, 2]])
    return check_gradients(lambda w: F.embedding(ids, w), *leaves(36, (4, 3)))


def case_dropout():
    # A fresh generator with the same seed on every call: each forward drops the same elements.
    return check_gradients(
        lambda x: F.dropout(x, 0.4, training=True, generator=np.random.default_rng(0)),
        *leaves(37, (3, 4)))


def case_attention():
    # Grouped-query: 4 query heads share 2 key/value heads; causal with fewer queries.
    q, k, v = leaves(38, (1, 4, 2, 3), (1, 2, 4, 3), (1, 2, 4, 3))
    return check_gradients(lambda q, k, v: F.scaled_dot_product_attention(
        q, k, v, is_causal=True, enable_gqa=True), q, k, v)


def case_gelu_mlp():
    x, w_fc, b_fc, w_proj, b_proj = leaves(39, (2, 3, 4), (16, 4), (16,), (4, 16), (4,))
    return check_gradients(F.gelu_mlp, x, w_fc, b_fc, w_proj, b_proj)


def case_silu():
    return check_gradients(F.silu, *leaves(40, (2, 5)))


def case_rms_norm():
    x, weight = leaves(41, (2, 3, 4), (4,))
    return check_gradients(lambda x, w: F.rms_norm(x, (4,), w, eps=1e-6), x, weight)


def case_swiglu_mlp():
    x, w_gate, w_up, w_down = leaves(42, (2, 3, 4), (6, 4), (6, 4), (5, 6))
    return check_gradients(F.swiglu_mlp, x, w_gate, w_up, w_down)


def case_rotary_embedding():
    # cos and sin (T, D) broadcast over batch and heads; their gradients are summed back.
    x, cos, sin = leaves(43, (2, 2, 3, 4), (3, 4), (3, 4))
    return check_gradients(F.rotary_embedding, x, cos, sin)


def case_sequence_log_prob():
    # row 0 counts two positions, row 1 one (its padding ignored), row 2 none
    target = np.array([[2, -100, 0], [1, -100, -100], [-100, -100, -100]])
    return check_gradients(lambda x: F.sequence_log_prob(x, target), *leaves(44, (3, 3, 4)))


def case_dpo_loss():
    return check_gradients(lambda *logps: F.dpo_loss(*logps, beta=0.5),
                           *leaves(45, (3,), (3,), (3,), (3,)))


CASES = {
    ops.Add: case_add,
    ops.Sub: case_sub,
    ops.Mul: case_mul,
    ops.Div: case_div,
    ops.Neg: case_neg,
    ops.Pow: case_pow,
    ops.Exp: case_exp,
    ops.Log: case_log,
    ops.Sqrt: case_sqrt,
    ops.Tanh: case_tanh,
    ops.ReLU: case_relu,
    ops.Sigmoid: case_sigmoid,
    ops.Cast: case_cast,
    ops.Sum: case_sum,
    ops.Mean: case_mean,
    ops.Var: case_var,
    ops.Max: case_max,
    ops.MatMul: case_matmul,
    ops.Reshape: case_reshape,
    ops.Transpose: case_transpose,
    ops.Permute: case_permute,
    ops.Expand: case_expand,
    ops.GetItem: case_getitem,
    ops.MaskedFill: case_masked_fill,
    ops.Where: case_where,
    ops.Cat: case_cat,
    ops.Stack: case_stack,
    ops.Split: case_split,
    Softmax: case_softmax,
    LogSoftmax: case_log_softmax,
    CrossEntropy: case_cross_entropy,
    GELU: case_gelu,
    LayerNorm: case_layer_norm,
    Linear: case_linear,
    Embedding: case_embedding,
    Dropout: case_dropout,
    ScaledDotProductAttention: case_attention,
    GeluMLP: case_gelu_mlp,
    SiLU: case_silu,
    RMSNorm: case_rms_norm,
    SwiGLUMLP: case_swiglu_mlp,
    RotaryEmbedding: case_rotary_embedding,
    SequenceLogProb: case_sequence_log_prob,
    DPOLoss: case_dpo_loss,
}
