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
    dropped = draw(st.integers(0, len(full)))
    return tuple(1 if draw(st.booleans()) else side for side in full[dropped:])


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
    shape_a = (k,) if draw(st.booleans()) else batch_a + (n, k)
    shape_b = (k,) if draw(st.booleans()) else batch_b + (k, m)
    return shape_a, shape_b


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
