"""Every primitive op: forward against NumPy, backward against finite differences (float64).

Hypothesis draws the shapes (strategies.py); `check_gradients` (gradcheck_cases.py) runs
`tt.gradcheck` and also asserts, for every input, that the gradient has the input's own shape
and dtype, the property that broadcasting is undone by the engine for every op.
"""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tinytorch as tt
from gradcheck_cases import check_gradients
from strategies import (arrays, broadcast_pairs, broadcast_shapes, expansions, indexed_shapes,
                        leaves, matmul_pairs, reductions, reshape_targets, seeds, shapes,
                        stretched)


def assert_forward(out, expected):
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    assert out.shape == np.shape(expected)


# ----- elementwise ------------------------------------------------------------------------------

BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
}


@pytest.mark.parametrize("name", BINARY)
@given(pair=broadcast_pairs(), seed=seeds)
def test_binary_ops_broadcast(name, pair, seed):
    op, reference = BINARY[name]
    a, = leaves(seed, pair[0])
    b, = leaves(seed + 1, pair[1], kind="nonzero")       # denominators away from 0
    assert_forward(op(a, b), reference(a.data, b.data))
    check_gradients(op, a, b)


@pytest.mark.parametrize("name", BINARY)
@given(shape=shapes(), seed=seeds)
def test_binary_ops_with_one_input_not_requiring_grad(name, shape, seed):
    op, _ = BINARY[name]
    a, = leaves(seed, shape)
    b = tt.tensor(arrays(seed + 1, shape, kind="nonzero")[0], dtype=np.float64)
    check_gradients(op, a, b)
    check_gradients(op, b, a)


WITH_PYTHON_NUMBERS = {
    "x + 2.5": lambda x: x + 2.5,
    "2.5 + x": lambda x: 2.5 + x,
    "x - 1.5": lambda x: x - 1.5,
    "1.5 - x": lambda x: 1.5 - x,
    "x * -3.0": lambda x: x * -3.0,
    "-3.0 * x": lambda x: -3.0 * x,
    "x / 4.0": lambda x: x / 4.0,
    "4.0 / x": lambda x: 4.0 / x,
    "x * 2 (int)": lambda x: x * 2,
    "2.0 ** x": lambda x: 2.0 ** x,
}


@pytest.mark.parametrize("name", WITH_PYTHON_NUMBERS)
@given(shape=shapes(), seed=seeds)
def test_ops_with_python_numbers(name, shape, seed):
    check_gradients(WITH_PYTHON_NUMBERS[name], *leaves(seed, shape, kind="nonzero"))


UNARY = {   # name: (op, NumPy reference, values it is defined and smooth on)
    "neg": (lambda x: -x, np.negative, "normal"),
    "exp": (lambda x: x.exp(), np.exp, "normal"),
    "log": (lambda x: x.log(), np.log, "positive"),
    "sqrt": (lambda x: x.sqrt(), np.sqrt, "positive"),
    "tanh": (lambda x: x.tanh(), np.tanh, "normal"),
    "relu": (lambda x: x.relu(), lambda x: np.maximum(x, 0.0), "normal"),
    "sigmoid": (lambda x: x.sigmoid(), lambda x: 1.0 / (1.0 + np.exp(-x)), "normal"),
    "x ** 2": (lambda x: x ** 2, np.square, "normal"),
    "x ** 3": (lambda x: x ** 3, lambda x: x ** 3, "normal"),
    "x ** -1": (lambda x: x ** -1, np.reciprocal, "nonzero"),
    "x ** 0.5": (lambda x: x ** 0.5, np.sqrt, "positive"),
    "x ** 1.5": (lambda x: x ** 1.5, lambda x: x ** 1.5, "positive"),
    "x ** -0.5": (lambda x: x ** -0.5, lambda x: 1.0 / np.sqrt(x), "positive"),
    "x ** np.float64(2.5)": (lambda x: x ** np.float64(2.5), lambda x: x ** 2.5, "positive"),
}


@pytest.mark.parametrize("name", UNARY)
@given(shape=shapes(), seed=seeds)
def test_unary_ops(name, shape, seed):
    op, reference, kind = UNARY[name]
    x, = leaves(seed, shape, kind=kind)
    np.testing.assert_allclose(op(x).data, reference(x.data), rtol=1e-12, atol=1e-15)
    check_gradients(op, x)


def test_relu_gradient_at_zero_is_zero():
    """The kink: PyTorch's convention, which the docstring states."""
    x = tt.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 1.0])


def test_pow_rejects_a_tensor_exponent_with_a_hint():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="exponent"):
        x ** x


# ----- reductions -------------------------------------------------------------------------------

@given(case=reductions(), seed=seeds)
def test_sum(case, seed):
    shape, dim, keepdim = case
    x, = leaves(seed, shape)
    assert_forward(x.sum(dim=dim, keepdim=keepdim), np.sum(x.data, axis=dim, keepdims=keepdim))
    check_gradients(lambda x: x.sum(dim=dim, keepdim=keepdim), x)


@given(case=reductions(), seed=seeds)
def test_mean(case, seed):
    shape, dim, keepdim = case
    x, = leaves(seed, shape)
    assert_forward(x.mean(dim=dim, keepdim=keepdim), np.mean(x.data, axis=dim, keepdims=keepdim))
    check_gradients(lambda x: x.mean(dim=dim, keepdim=keepdim), x)


@given(case=reductions(), correction=st.sampled_from([0, 1]), seed=seeds)
def test_var(case, correction, seed):
    shape, dim, keepdim = case
    axes = range(len(shape)) if dim is None else np.atleast_1d(dim)
    assume(int(np.prod([shape[d] for d in axes])) > correction)     # else 0/0, as in PyTorch
    x, = leaves(seed, shape)
    out = x.var(dim=dim, keepdim=keepdim, correction=correction)
    assert_forward(out, np.var(x.data, axis=dim, ddof=correction, keepdims=keepdim))
    check_gradients(lambda x: x.var(dim=dim, keepdim=keepdim, correction=correction), x)


def test_var_defaults_to_the_unbiased_estimate():
    x = tt.tensor([1.0, 2.0, 3.0, 6.0])
    assert x.var().item() == pytest.approx(14.0 / 3.0)           # sum of squares 14, n - 1 = 3


@given(case=reductions(allow_tuple=False), seed=seeds)
def test_max(case, seed):
    shape, dim, keepdim = case
    x, = leaves(seed, shape)
    assert_forward(x.max(dim=dim, keepdim=keepdim), np.max(x.data, axis=dim, keepdims=keepdim))
    check_gradients(lambda x: x.max(dim=dim, keepdim=keepdim), x)


def test_max_gives_the_whole_gradient_to_one_of_tied_elements():
    x = tt.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], requires_grad=True)
    x.max(dim=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 1, 0], [1, 0, 0]])     # the first arg-max

    x.grad = None
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [[0, 1, 0], [0, 0, 0]])


@given(case=reductions(allow_tuple=False), seed=seeds)
def test_argmax_matches_numpy_and_has_no_gradient(case, seed):
    shape, dim, keepdim = case
    x, = leaves(seed, shape)
    indices = x.argmax(dim=dim, keepdim=keepdim)
    np.testing.assert_array_equal(indices.data, np.argmax(x.data, axis=dim, keepdims=keepdim))
    assert indices.dtype == np.int64
    assert not indices.requires_grad and indices._node is None


# ----- matmul -----------------------------------------------------------------------------------

@given(pair=matmul_pairs(), seed=seeds)
def test_matmul(pair, seed):
    a, b = leaves(seed, *pair)
    assert_forward(a @ b, np.matmul(a.data, b.data))
    check_gradients(lambda a, b: a @ b, a, b)


@pytest.mark.parametrize("shapes_", [
    ((3,), (3,)),                   # a dot product: a 0-d result
    ((3,), (3, 2)),                 # a row vector times a matrix
    ((2, 3), (3,)),                 # a matrix times a column vector
    ((4, 2, 3), (3, 5)),            # batch times one matrix (folded into rows)
    ((2, 3), (4, 3, 5)),            # one matrix times a batch
    ((2, 1, 2, 3), (4, 3, 2)),      # batch dims broadcast: (2, 1) against (4,)
    ((3,), (2, 3, 4)),              # a vector times a batch
    ((2, 4, 3), (3,)),              # a batch times a vector
])
def test_matmul_shapes_named(shapes_):
    check_gradients(lambda a, b: a @ b, *leaves(7, *shapes_))


# ----- moving elements around -------------------------------------------------------------------

@given(data=st.data(), shape=shapes(), seed=seeds)
def test_reshape(data, shape, seed):
    target = data.draw(reshape_targets(shape))
    x, = leaves(seed, shape)
    assert_forward(x.reshape(target), x.data.reshape(target))
    assert_forward(x.reshape(*target), x.data.reshape(target))
    check_gradients(lambda x: x.reshape(target), x)


@given(data=st.data(), shape=shapes(min_dims=1), seed=seeds)
def test_transpose(data, shape, seed):
    axis = st.integers(-len(shape), len(shape) - 1)
    dim0, dim1 = data.draw(axis), data.draw(axis)
    x, = leaves(seed, shape)
    assert_forward(x.transpose(dim0, dim1), np.swapaxes(x.data, dim0, dim1))
    check_gradients(lambda x: x.transpose(dim0, dim1), x)


@given(data=st.data(), shape=shapes(), seed=seeds)
def test_permute(data, shape, seed):
    order = data.draw(st.permutations(range(len(shape))))
    # Some axes written as negative numbers, which mean the same axes.
    order = tuple(d - len(shape) if data.draw(st.booleans()) else d for d in order)
    x, = leaves(seed, shape)
    assert_forward(x.permute(order), np.transpose(x.data, order))
    assert_forward(x.permute(*order), np.transpose(x.data, order))
    check_gradients(lambda x: x.permute(order), x)


@given(data=st.data(), shape=shapes(max_dims=3), seed=seeds)
def test_unsqueeze(data, shape, seed):
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    x, = leaves(seed, shape)
    assert_forward(x.unsqueeze(dim), np.expand_dims(x.data, dim))
    check_gradients(lambda x: x.unsqueeze(dim), x)


@given(data=st.data(), shape=shapes(min_dims=1, max_side=2), seed=seeds)
def test_squeeze(data, shape, seed):
    dim = data.draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    x, = leaves(seed, shape)
    if dim is None:
        expected = np.squeeze(x.data)
    else:   # only a size-1 axis goes (PyTorch leaves any other axis alone)
        expected = np.squeeze(x.data, dim) if shape[dim] == 1 else x.data
    assert_forward(x.squeeze(dim), expected)
    check_gradients(lambda x: x.squeeze(dim), x)


@given(case=expansions(), seed=seeds)
def test_expand(case, seed):
    shape, target = case
    x, = leaves(seed, shape)
    full = tuple(x.shape[i - (len(target) - x.ndim)] if n == -1 else n
                 for i, n in enumerate(target))
    assert_forward(x.expand(*target), np.broadcast_to(x.data, full))
    check_gradients(lambda x: x.expand(target), x)


# ----- selecting --------------------------------------------------------------------------------

@given(case=indexed_shapes(), seed=seeds)
def test_indexing(case, seed):
    shape, index = case
    x, = leaves(seed, shape)
    assert_forward(x[index], x.data[index])
    check_gradients(lambda x: x[index], x)


def test_indexing_with_repeated_indices_accumulates():
    x = tt.tensor([10.0, 20.0, 30.0], requires_grad=True)
    picked = x[np.array([0, 2, 0, 0])]                         # x0, x2, x0, x0
    (picked * tt.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0 + 3.0 + 4.0, 0.0, 2.0])

    m = tt.tensor(np.zeros((2, 3)), requires_grad=True)
    m[[0, 0, 1], [2, 2, 0]].sum().backward()                   # (0, 2) twice, (1, 0) once
    np.testing.assert_array_equal(m.grad, [[0, 0, 2], [1, 0, 0]])


def test_indexing_with_a_tensor_index_and_a_bool_mask():
    x = tt.tensor([[1.0, -2.0], [-3.0, 4.0]], requires_grad=True)
    rows = x[tt.tensor([1, 1])]
    np.testing.assert_array_equal(rows.data, [[-3.0, 4.0], [-3.0, 4.0]])
    positive = x[x > 0]                                        # a bool tensor as the index
    np.testing.assert_array_equal(positive.data, [1.0, 4.0])
    (rows.sum() + positive.sum()).backward()
    np.testing.assert_array_equal(x.grad, [[1.0, 0.0], [2.0, 3.0]])


@given(data=st.data(), shape=shapes(min_dims=1), seed=seeds)
def test_masked_fill(data, shape, seed):
    mask_shape = data.draw(stretched(shape))
    mask = np.random.default_rng(seed).random(mask_shape) < 0.5
    value = data.draw(st.sampled_from([0.0, -1.5]))
    x, = leaves(seed, shape)
    assert_forward(x.masked_fill(mask, value), np.where(mask, value, x.data))
    assert_forward(x.masked_fill(mask, float("-inf")), np.where(mask, -np.inf, x.data))
    check_gradients(lambda x: x.masked_fill(mask, value), x)


@given(three=broadcast_shapes(count=3), seed=seeds)
def test_where(three, seed):
    condition_shape, shape_a, shape_b = three
    condition = np.random.default_rng(seed).random(condition_shape) < 0.5
    a, b = leaves(seed, shape_a, shape_b)
    assert_forward(tt.where(condition, a, b), np.where(condition, a.data, b.data))
    check_gradients(lambda a, b: tt.where(condition, a, b), a, b)
    check_gradients(lambda a: tt.where(tt.tensor(condition), a, 0.0), a)


@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3), seed=seeds)
def test_cat(data, shape, seed):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    lengths = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    pieces = leaves(seed, *[shape[:dim % len(shape)] + (n,) + shape[dim % len(shape) + 1:]
                            for n in lengths])
    assert_forward(tt.cat(pieces, dim=dim), np.concatenate([p.data for p in pieces], axis=dim))
    check_gradients(lambda *pieces: tt.cat(list(pieces), dim=dim), *pieces)


@given(data=st.data(), shape=shapes(max_dims=3), seed=seeds)
def test_stack(data, shape, seed):
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    count = data.draw(st.integers(1, 3))
    pieces = leaves(seed, *[shape] * count)
    assert_forward(tt.stack(pieces, dim=dim), np.stack([p.data for p in pieces], axis=dim))
    check_gradients(lambda *pieces: tt.stack(pieces, dim=dim), *pieces)


@given(data=st.data(), shape=shapes(min_dims=1), seed=seeds)
def test_split_using_only_some_pieces(data, shape, seed):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    length = shape[dim]
    if data.draw(st.booleans()):
        how = data.draw(st.integers(1, length))                # pieces of this size
        expected_sizes = [min(how, length - start) for start in range(0, length, how)]
    else:
        cuts = sorted(data.draw(st.lists(st.integers(0, length), max_size=3)))
        how = expected_sizes = list(np.diff([0, *cuts, length]))   # sizes, zeros allowed
    used = data.draw(st.lists(st.booleans(), min_size=len(expected_sizes),
                              max_size=len(expected_sizes)))
    assume(any(used))
    x, = leaves(seed, shape)

    pieces = x.split(how, dim=dim)
    assert [p.shape[dim] for p in pieces] == expected_sizes
    for piece, expected in zip(pieces, np.split(x.data, np.cumsum(expected_sizes)[:-1], dim)):
        assert_forward(piece, expected)
    check_gradients(lambda x: [p for p, u in zip(x.split(how, dim=dim), used) if u], x)


def test_split_gives_unused_pieces_a_zero_gradient():
    x = tt.tensor(np.arange(6.0), requires_grad=True)
    first, _, third = x.split(2)
    (first * 2.0 + third * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [2, 2, 0, 0, 3, 3])


def test_split_sizes_that_do_not_add_up_name_both():
    with pytest.raises(ValueError, match=r"\[1, 1\].*3"):
        tt.ones(3, 2).split([1, 1])


# ----- changing dtype ---------------------------------------------------------------------------

@given(shape=shapes(), seed=seeds)
def test_cast_through_float32(shape, seed):
    x, = leaves(seed, shape)
    # float32 keeps 7 digits: the large step keeps the numeric derivative (exact for a linear
    # function) clear of that rounding.
    check_gradients(lambda x: x.to(np.float32).to(np.float64), x, eps=1e-2)


def test_cast_returns_gradients_in_the_input_dtype():
    x = tt.tensor([1.0, 2.0], dtype=np.float32, requires_grad=True)
    y = x.to(np.float64)
    assert y.dtype == np.float64 and y.grad_fn == "Cast"
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
    assert x.to(np.float32) is x           # already that dtype: no new node
