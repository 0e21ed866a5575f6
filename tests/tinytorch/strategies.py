"""Hypothesis strategies for the tinytorch tests: shapes, broadcast pairs, matmul pairs, indices.

Hypothesis chooses the SHAPES (and a seed); the VALUES come from `np.random.default_rng(seed)`.
Normal samples are all distinct with probability one, so a max or a relu never sits on a tie
or a kink where finite differences would disagree with the (one-sided) analytic gradient, and
Hypothesis never wastes examples on NaN, infinities or 1e300.

Shapes stay small (at most 4 dimensions of at most 5) because a gradient check costs two
forward passes per input element.

    @given(pair=broadcast_pairs(), seed=seeds)
    def test_add(pair, seed):
        a, b = leaves(seed, *pair)
"""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinytorch as tt

MAX_DIMS = 4
MAX_SIDE = 5

seeds = st.integers(min_value=0, max_value=2**32 - 1)
sides = st.integers(min_value=1, max_value=MAX_SIDE)


def shapes(min_dims=0, max_dims=MAX_DIMS, min_side=1, max_side=MAX_SIDE):
    """Array shapes: () (a 0-d tensor) up to 4-D, each side 1 to 5."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


@st.composite
def stretched(draw, full):
    """A shape that broadcasts to `full`: `full` changed the two ways broadcasting can stretch
    an operand, leading dimensions dropped ((3,) against (2, 3)) and sides shrunk to 1 ((2, 1)
    against (2, 3)). Either, both or neither, so `full` itself is included."""
    kept = full[draw(st.integers(0, min(2, len(full)))):]      # drop up to 2 leading dims
    # A set of positions (usually a small one) rather than a coin per side: coins made most
    # shapes all ones, which broadcast trivially.
    shrunk = draw(st.sets(st.sampled_from(range(len(kept))), max_size=len(kept))) if kept else ()
    return tuple(1 if i in shrunk else side for i, side in enumerate(kept))


@st.composite
def broadcast_shapes(draw, count=2, max_dims=MAX_DIMS):
    """`count` shapes that broadcast together, each stretched from one full shape."""
    full = draw(shapes(max_dims=max_dims))
    return tuple(draw(stretched(full)) for _ in range(count))


def broadcast_pairs(max_dims=MAX_DIMS):
    """(shape_a, shape_b) that broadcast together."""
    return broadcast_shapes(2, max_dims)


@st.composite
def matmul_pairs(draw):
    """(shape_a, shape_b) for a @ b, as NumPy and PyTorch define it.

    a is (k,) or (*batch_a, n, k); b is (k,) or (*batch_b, k, m); the batch dims (up to 2)
    broadcast against each other, so one side may have a batch of 1 or none at all. A 1-D
    operand is a vector: 1-D @ 1-D is a dot product, 1-D @ 2-D a row times a matrix.
    """
    n, k, m = draw(sides), draw(sides), draw(sides)
    batch_a, batch_b = draw(broadcast_pairs(max_dims=2))
    a_kind, b_kind = draw(st.sampled_from(MATMUL_KINDS))
    shape_a = (k,) if a_kind == "vector" else batch_a + (n, k)
    shape_b = (k,) if b_kind == "vector" else batch_b + (k, m)
    return shape_a, shape_b


# Mostly (batched) matrices, which is where the broadcasting is; each vector case once in 4.
MATMUL_KINDS = [("matrix", "matrix"), ("vector", "matrix"), ("matrix", "matrix"),
                ("matrix", "vector"), ("matrix", "matrix"), ("vector", "vector"),
                ("matrix", "matrix"), ("matrix", "matrix")]


def dims(ndim, allow_tuple=True):
    """A `dim` argument for a reduction over an ndim-dimensional tensor: None (everything), an
    int (negative ones too) or, if allowed, a tuple of distinct axes."""
    options = [st.none()]
    if ndim > 0:
        axis = st.integers(-ndim, ndim - 1)
        options.append(axis)
        if allow_tuple:
            options.append(st.lists(axis, min_size=1, max_size=ndim,
                                    unique_by=lambda d: d % ndim).map(tuple))
    return st.one_of(options)


@st.composite
def reductions(draw, allow_tuple=True):
    """(shape, dim, keepdim) for sum / mean / var / max."""
    shape = draw(shapes())
    return shape, draw(dims(len(shape), allow_tuple)), draw(st.booleans())


@st.composite
def indices(draw, shape):
    """An index for a tensor of `shape` (at least 1-D), one of four kinds:

    basic        ints, slices (with steps, negative too), None and Ellipsis
    int array    an integer array along one axis, usually with repeated entries (whose
                 gradients must add up), plus slices for the other axes
    int arrays   one integer array per axis, broadcast against each other (NumPy's fancy
                 indexing in full)
    bool mask    a boolean array over the leading axes
    """
    kind = draw(st.sampled_from(["basic", "int array", "int arrays", "bool mask"]))
    if kind == "basic":
        return draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    if kind == "int array":
        axis = draw(st.integers(0, len(shape) - 1))
        side = shape[axis]
        picks = draw(st.lists(st.integers(-side, side - 1), min_size=1, max_size=8))
        return (slice(None),) * axis + (np.array(picks),)
    if kind == "int arrays":
        return draw(hnp.integer_array_indices(shape, result_shape=shapes(1, 2)))
    leading = draw(st.integers(1, len(shape)))
    return draw(hnp.arrays(np.bool_, shape[:leading]))


@st.composite
def indexed_shapes(draw):
    """(shape, index): a shape of at least one dimension and an index for it."""
    shape = draw(shapes(min_dims=1))
    return shape, draw(indices(shape))


@st.composite
def reshape_targets(draw, shape):
    """A shape with as many elements as `shape`: its sides reordered, size-1 axes added, and
    perhaps one side written as -1 ("whatever is left")."""
    target = list(draw(st.permutations(shape)))
    for _ in range(draw(st.integers(0, 2))):
        target.insert(draw(st.integers(0, len(target))), 1)
    if target and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return tuple(target)


@st.composite
def expansions(draw):
    """(shape, target) for x.expand(*target): shape stretched from target, and some of
    target's sides that x already has written as -1 ("keep this size")."""
    target = draw(shapes())
    shape = draw(stretched(target))
    lead = len(target) - len(shape)
    written = tuple(-1 if i >= lead and shape[i - lead] == side and draw(st.booleans())
                    else side for i, side in enumerate(target))
    return shape, written


# ----- values ---------------------------------------------------------------------------------

def _normal(rng, shape):
    return rng.standard_normal(shape)


def _positive(rng, shape):
    """In [0.5, ~5): safe for log, sqrt, fractional powers."""
    return 0.5 + np.abs(rng.standard_normal(shape))


def _nonzero(rng, shape):
    """|x| >= 0.5 with either sign: safe as a denominator."""
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0) * _positive(rng, shape)


VALUE_KINDS = {"normal": _normal, "positive": _positive, "nonzero": _nonzero}


def arrays(seed, *shapes_, kind="normal"):
    """Float64 arrays of the given shapes, drawn from np.random.default_rng(seed)."""
    rng = np.random.default_rng(seed)
    return [VALUE_KINDS[kind](rng, shape) for shape in shapes_]


def leaves(seed, *shapes_, kind="normal", dtype=np.float64):
    """Leaf tensors (requires_grad=True) of the given shapes, float64 unless told."""
    return [tt.tensor(values, dtype=dtype, requires_grad=True)
            for values in arrays(seed, *shapes_, kind=kind)]


# ----- calls of the functional kernels ----------------------------------------------------------

class KernelCall:
    """One call of a `tinytorch.functional` kernel, runnable against the fused module (F) or
    its composed twin (`tinytorch.functional.composed`), which share names and signatures.

        call      call(module, *inputs) -> tensor
        shapes    the shapes of the tensor inputs, made fresh by `inputs()` on every run
        kind      which values (see VALUE_KINDS)
    """

    def __init__(self, call, shapes_, seed, kind="normal", description=""):
        self.call, self.shapes, self.seed, self.kind = call, shapes_, seed, kind
        self.description = description

    def inputs(self, dtype=np.float64):
        return leaves(self.seed, *self.shapes, kind=self.kind, dtype=dtype)

    def run(self, module, dtype=np.float64):
        """(output, inputs) of a fresh forward pass through `module`."""
        inputs = self.inputs(dtype)
        return self.call(module, *inputs), inputs

    def __repr__(self):
        return f"KernelCall({self.description}, shapes={self.shapes}, seed={self.seed})"


@st.composite
def softmax_calls(draw, name="softmax"):
    shape = draw(shapes(min_dims=1))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    return KernelCall(lambda m, x: getattr(m, name)(x, dim=dim), [shape], draw(seeds),
                      description=f"{name}(x, dim={dim})")


@st.composite
def cross_entropy_calls(draw):
    """Logits (N, C); each target a class or ignore_index (-100, or a class id itself)."""
    n, c = draw(sides), draw(sides)
    ignore_index = draw(st.sampled_from([-100, 0]))
    target = np.array(draw(st.lists(st.integers(0, c - 1) | st.just(ignore_index),
                                    min_size=n, max_size=n)))
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    return KernelCall(
        lambda m, logits: m.cross_entropy(logits, target, ignore_index=ignore_index,
                                          reduction=reduction),
        [(n, c)], draw(seeds),
        description=f"cross_entropy(target={target.tolist()}, ignore_index={ignore_index}, "
                    f"reduction={reduction!r})")


@st.composite
def gelu_calls(draw):
    return KernelCall(lambda m, x: m.gelu(x), [draw(shapes())], draw(seeds), description="gelu")


@st.composite
def layer_norm_calls(draw):
    """Leading dims (0 to 2) then the normalised shape (1 or 2 dims of at least 2 elements);
    weight and bias each present or not."""
    normalized_shape = draw(shapes(min_dims=1, max_dims=2, min_side=2))
    lead = draw(shapes(max_dims=2))
    has_weight, has_bias = draw(st.booleans()), draw(st.booleans())

    def call(m, x, *params):
        params = iter(params)
        weight = next(params) if has_weight else None
        bias = next(params) if has_bias else None
        return m.layer_norm(x, normalized_shape, weight, bias)

    shapes_ = [lead + normalized_shape] + [normalized_shape] * (has_weight + has_bias)
    return KernelCall(call, shapes_, draw(seeds),
                      description=f"layer_norm({normalized_shape}, weight={has_weight}, "
                                  f"bias={has_bias})")


@st.composite
def linear_calls(draw):
    """x (..., in) with 0 to 2 leading dims, weight (out, in), bias (out,) or None."""
    lead, n_in, n_out = draw(shapes(max_dims=2)), draw(sides), draw(sides)
    shapes_ = [lead + (n_in,), (n_out, n_in)]
    if draw(st.booleans()):
        shapes_.append((n_out,))
    return KernelCall(lambda m, *args: m.linear(*args), shapes_, draw(seeds),
                      description=f"linear(bias={len(shapes_) == 3})")


@st.composite
def embedding_calls(draw):
    """A (V, C) table and ids of 1 or 2 dims, repeats included."""
    vocab, width = draw(sides), draw(sides)
    ids = draw(hnp.arrays(np.int64, shapes(min_dims=1, max_dims=2),
                          elements=st.integers(0, vocab - 1)))
    return KernelCall(lambda m, weight: m.embedding(ids, weight), [(vocab, width)],
                      draw(seeds), description=f"embedding(ids={ids.tolist()})")


@st.composite
def dropout_calls(draw):
    """A fresh generator with the same seed on every call, so every run drops the same
    elements (the fused kernel and its twin draw the mask the same way)."""
    p = draw(st.sampled_from([0.1, 0.5, 0.9]))
    mask_seed = draw(seeds)
    return KernelCall(
        lambda m, x: m.dropout(x, p, training=True, generator=np.random.default_rng(mask_seed)),
        [draw(shapes())], draw(seeds), description=f"dropout(p={p})")


@st.composite
def attention_calls(draw):
    """q (B, Hq, Tq, D), k (B, Hkv, Tk, D), v (B, Hkv, Tk, Dv); causal or not (causal needs
    Tq <= Tk, and Tq < Tk is the end-aligned KV-cache case); attention dropout or not;
    grouped-query (Hq a multiple of Hkv, multi-query when Hkv = 1) or plain (Hq = Hkv);
    the default scale 1/sqrt(D) or another one."""
    batch, kv_heads = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    enable_gqa = draw(st.booleans())
    heads = kv_heads * (draw(st.integers(1, 3)) if enable_gqa else 1)
    n_keys, head_size, value_size = draw(st.integers(1, 4)), draw(sides), draw(sides)
    is_causal = draw(st.booleans())
    n_queries = draw(st.integers(1, n_keys if is_causal else 4))
    dropout_p = draw(st.sampled_from([0.0, 0.0, 0.3]))
    scale = draw(st.sampled_from([None, None, 0.3]))
    mask_seed = draw(seeds)

    def call(m, q, k, v):
        return m.scaled_dot_product_attention(q, k, v, is_causal=is_causal, dropout_p=dropout_p,
                                              generator=np.random.default_rng(mask_seed),
                                              enable_gqa=enable_gqa, scale=scale)

    q_shape = (batch, heads, n_queries, head_size)
    k_shape, v_shape = (batch, kv_heads, n_keys, head_size), (batch, kv_heads, n_keys, value_size)
    return KernelCall(call, [q_shape, k_shape, v_shape], draw(seeds),
                      description=f"attention(is_causal={is_causal}, dropout_p={dropout_p}, "
                                  f"enable_gqa={enable_gqa}, scale={scale})")


@st.composite
def silu_calls(draw):
    return KernelCall(lambda m, x: m.silu(x), [draw(shapes())], draw(seeds), description="silu")


@st.composite
def rms_norm_calls(draw):
    """Leading dims (0 to 2) then the normalised shape (1 or 2 dims); weight or not; eps
    given or None (the dtype's machine epsilon)."""
    normalized_shape = draw(shapes(min_dims=1, max_dims=2))
    lead = draw(shapes(max_dims=2))
    has_weight = draw(st.booleans())
    eps = draw(st.sampled_from([None, 1e-5, 0.1]))

    def call(m, x, *weight):
        return m.rms_norm(x, normalized_shape, weight[0] if weight else None, eps=eps)

    shapes_ = [lead + normalized_shape] + [normalized_shape] * has_weight
    return KernelCall(call, shapes_, draw(seeds),
                      description=f"rms_norm({normalized_shape}, weight={has_weight}, eps={eps})")


@st.composite
def mlp_calls(draw, name, n_first_layers):
    """x (..., C) with 0 to 2 leading dims; the first layers (F, C) (one for GELU's MLP, gate
    and up for SwiGLU), the last (C_out, F); each layer's bias present or not."""
    lead, n_in, n_hidden, n_out = draw(shapes(max_dims=2)), draw(sides), draw(sides), draw(sides)
    layer_shapes = [(n_hidden, n_in)] * n_first_layers + [(n_out, n_hidden)]
    has_bias = [draw(st.booleans()) for _ in layer_shapes]
    weights_shapes = list(layer_shapes)
    biases_shapes = [(shape[0],) for shape, bias in zip(layer_shapes, has_bias) if bias]

    def call(m, x, *params):
        weights, biases = params[:len(layer_shapes)], iter(params[len(layer_shapes):])
        bias_args = [next(biases) if bias else None for bias in has_bias]
        if name == "gelu_mlp":
            return m.gelu_mlp(x, weights[0], bias_args[0], weights[1], bias_args[1])
        return m.swiglu_mlp(x, *weights, *bias_args)

    return KernelCall(call, [lead + (n_in,)] + weights_shapes + biases_shapes, draw(seeds),
                      description=f"{name}(biases={has_bias})")


@st.composite
def rotary_calls(draw):
    """x (B, H, T, D) with D even and tables (T, D) or of a shape that broadcasts to x
    ((1, 1, T, D), (B, 1, T, D)); the tables are random, not true cosines and sines, so the
    two halves differ and every term of the formula is checked."""
    batch, heads, length = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(sides)
    head_size = 2 * draw(st.integers(1, 3))
    x_shape = (batch, heads, length, head_size)
    table_shape = draw(st.sampled_from([(length, head_size), (1, 1, length, head_size),
                                        (batch, 1, length, head_size)]))
    return KernelCall(lambda m, x, cos, sin: m.rotary_embedding(x, cos, sin),
                      [x_shape, table_shape, table_shape], draw(seeds),
                      description=f"rotary_embedding(tables {table_shape})")


@st.composite
def sequence_log_prob_calls(draw):
    """Logits (B, T, V); each target a token id or ignore_index (-100, or a token id itself),
    so some rows may count every position and some none."""
    batch, length, vocab = draw(sides), draw(sides), draw(sides)
    ignore_index = draw(st.sampled_from([-100, 0]))
    target = draw(hnp.arrays(np.int64, (batch, length),
                             elements=st.integers(0, vocab - 1) | st.just(ignore_index)))
    return KernelCall(
        lambda m, logits: m.sequence_log_prob(logits, target, ignore_index=ignore_index),
        [(batch, length, vocab)], draw(seeds),
        description=f"sequence_log_prob(target={target.tolist()}, "
                    f"ignore_index={ignore_index})")


@st.composite
def dpo_loss_calls(draw):
    """The four log-probabilities (B,) (all four differentiable, so the check covers every
    gradient), a beta and a reduction."""
    batch = draw(sides)
    beta = draw(st.sampled_from([0.1, 0.5, 2.0]))
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    return KernelCall(
        lambda m, *logps: m.dpo_loss(*logps, beta=beta, reduction=reduction),
        [(batch,)] * 4, draw(seeds), description=f"dpo_loss(beta={beta}, "
                                                 f"reduction={reduction!r})")


# Every kernel of tinytorch.functional, by name, with the calls Hypothesis makes of it.
KERNEL_CALLS = {
    "softmax": softmax_calls("softmax"),
    "log_softmax": softmax_calls("log_softmax"),
    "cross_entropy": cross_entropy_calls(),
    "gelu": gelu_calls(),
    "silu": silu_calls(),
    "layer_norm": layer_norm_calls(),
    "rms_norm": rms_norm_calls(),
    "linear": linear_calls(),
    "embedding": embedding_calls(),
    "dropout": dropout_calls(),
    "scaled_dot_product_attention": attention_calls(),
    "rotary_embedding": rotary_calls(),
    "gelu_mlp": mlp_calls("gelu_mlp", 1),
    "swiglu_mlp": mlp_calls("swiglu_mlp", 2),
    "sequence_log_prob": sequence_log_prob_calls(),
    "dpo_loss": dpo_loss_calls(),
}
