"""The autograd engine: Tensor, the graph, the backward walk, no_grad, and users' Functions."""
import numpy as np
import pytest

import tinytorch as tt


def leaf(values, dtype=np.float64):
    return tt.tensor(values, dtype=dtype, requires_grad=True)


# ----- gradients accumulate, graphs are freed ---------------------------------------------------

def test_gradients_accumulate_across_backward_calls_until_cleared():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
    (x * 3.0).sum().backward()                       # a new graph: adds to what is there
    np.testing.assert_array_equal(x.grad, [5.0, 7.0])

    x.zero_grad()
    assert x.grad is None
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])

    x.grad = None                                    # what zero_grad does, by hand
    x.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])


def test_a_second_backward_through_a_freed_graph_says_to_retain_it():
    x = leaf([1.0, 2.0])
    y = (x.exp() * 2.0).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_a_graph_shared_with_an_earlier_backward_is_freed_too():
    x = leaf([1.0, 2.0])
    hidden = x.tanh()
    hidden.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        (hidden * 2.0).sum().backward()


def test_retain_graph_allows_a_second_backward_which_adds_again():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad, [4.0, 8.0])            # 2x, twice


def test_backward_frees_what_forward_saved():
    x = leaf([1.0, 2.0])
    y = x.exp()
    node = y._node
    y.sum().backward()
    assert node.freed and node.inputs == ()
    assert getattr(node, "saved_tensors", ()) == ()


# ----- the walk ---------------------------------------------------------------------------------

def test_a_chain_of_ten_thousand_ops_does_not_hit_the_recursion_limit():
    x = leaf([0.5])
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0001 ** 10_000], rtol=1e-9)


def test_a_48_block_residual_stack_backpropagates():
    rng = np.random.default_rng(0)
    x = leaf(rng.standard_normal((2, 8)))
    weights = [leaf(rng.standard_normal((8, 8)) * 0.05) for _ in range(48)]
    h = x
    for w in weights:
        h = h + (h @ w).tanh()               # x = x + f(x)
    h.sum().backward()
    assert np.all(np.isfinite(x.grad)) and all(w.grad.shape == (8, 8) for w in weights)


def test_the_walk_visits_a_node_once_however_many_paths_reach_it():
    x = leaf([1.0])
    h = x
    for _ in range(60):                       # 2**60 paths from h to x; one walk per node
        h = h + h
    h.backward()
    assert x.grad[0] == 2.0 ** 60


class CountedSquare(tt.Function):
    """x ** 2, counting how often backward runs."""
    backward_calls = 0

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        CountedSquare.backward_calls += 1
        (x,) = ctx.saved_tensors
        return 2.0 * x * grad


def test_a_node_used_many_times_runs_backward_once_with_the_summed_gradient():
    CountedSquare.backward_calls = 0
    x = leaf([3.0])
    y = CountedSquare.apply(x)
    total = y
    for _ in range(99):
        total = total + y                      # y feeds 100 ops
    total.backward()
    assert CountedSquare.backward_calls == 1
    np.testing.assert_array_equal(x.grad, [100 * 2 * 3.0])


# ----- no_grad ----------------------------------------------------------------------------------

def test_no_grad_as_a_context_manager_records_nothing():
    x = leaf([1.0, 2.0])
    with tt.no_grad():
        assert not tt.is_grad_enabled()
        y = (x * 2.0).exp()
    assert tt.is_grad_enabled()
    assert y._node is None and not y.requires_grad


def test_no_grad_as_a_decorator_records_nothing():
    x = leaf([1.0, 2.0])

    @tt.no_grad()
    def evaluate(t):
        return (t * t).sum()

    y = evaluate(x)
    assert y._node is None and not y.requires_grad
    assert tt.is_grad_enabled()
    assert (x * x).sum().requires_grad          # outside, recording again


def test_enable_grad_inside_no_grad_records_again():
    x = leaf([1.0, 2.0])
    with tt.no_grad():
        with tt.enable_grad():
            y = (x * x).sum()
        z = x * x
    assert y.requires_grad and y.grad_fn == "Sum"
    assert not z.requires_grad
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with tt.no_grad():
            1 / 0
    assert tt.is_grad_enabled()


def test_a_recursive_no_grad_function_restores_the_mode():
    @tt.no_grad()
    def depth(n):
        return depth(n - 1) if n else tt.is_grad_enabled()

    try:
        assert depth(3) is False
        assert tt.is_grad_enabled(), "grad mode must be back on after the outermost call returns"
    finally:
        tt.autograd._grad_enabled = True         # so a failure here does not spoil other tests


# ----- what can and cannot require grad ---------------------------------------------------------

def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="floating"):
        tt.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(TypeError, match="floating"):
        tt.arange(3, requires_grad=True)
    with pytest.raises(TypeError, match="floating"):
        tt.tensor([1, 2]).requires_grad_()
    with pytest.raises(TypeError, match="floating"):
        tt.zeros(2, dtype=np.int64, requires_grad=True)


def test_ops_on_tensors_without_grad_record_nothing():
    a, b = tt.tensor([1.0, 2.0]), tt.tensor([3.0, 4.0])
    y = a * b + 1.0
    assert y._node is None and not y.requires_grad and y.is_leaf


def test_integer_results_stay_out_of_the_graph():
    x = leaf([[1.0, 5.0], [3.0, 2.0]])
    ids = x.argmax(dim=1)
    assert ids.dtype == np.int64 and not ids.requires_grad
    assert not (x > 2.0).requires_grad


def test_detach_cuts_the_graph_and_shares_the_data():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    d = y.detach()
    assert d._node is None and not d.requires_grad
    assert d.data is y.data


# ----- errors a learner can act on --------------------------------------------------------------

def test_backward_on_a_non_scalar_says_what_to_pass():
    y = leaf([1.0, 2.0]) * 2.0
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*grad=.*sum\(\)"):
        y.backward()


def test_backward_with_a_gradient_of_the_wrong_shape_names_both():
    y = leaf([1.0, 2.0]) * 2.0
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        y.backward(np.ones(3))


def test_backward_on_a_tensor_that_needs_no_grad_says_so():
    with pytest.raises(RuntimeError, match="requires_grad"):
        (tt.tensor([1.0]) * 2.0).sum().backward()


def test_matmul_shape_mismatch_names_the_op_and_both_shapes():
    with pytest.raises(ValueError, match=r"MatMul.*\(2, 3\).*\(4, 5\)"):
        tt.ones(2, 3) @ tt.ones(4, 5)
    with pytest.raises(ValueError, match=r"MatMul.*\(2, 3, 4\).*\(5, 4, 6\)"):
        tt.ones(2, 3, 4) @ tt.ones(5, 4, 6)             # batch dims 2 and 5 do not broadcast


def test_broadcast_mismatch_names_the_op_and_both_shapes():
    with pytest.raises(ValueError, match=r"Add.*\(2, 3\).*\(4,\)"):
        tt.ones(2, 3) + tt.ones(4)
    with pytest.raises(ValueError, match=r"Mul.*\(2, 3\).*\(2,\)"):
        tt.ones(2, 3, requires_grad=True) * tt.ones(2)


def test_reshape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)"):
        tt.ones(2, 3).reshape(4)


# ----- users' own Functions ---------------------------------------------------------------------

class ScaledProduct(tt.Function):
    """x * y * scale, written the way a PyTorch user would."""
    seen = {}

    @staticmethod
    def forward(ctx, x, y, scale):
        ScaledProduct.seen["forward types"] = (type(x), type(y), type(scale))
        ctx.save_for_backward(x, y)
        ctx.scale = scale
        return x * y * scale

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        ScaledProduct.seen["needs_input_grad"] = ctx.needs_input_grad
        grad_x = grad * y * ctx.scale if ctx.needs_input_grad[0] else None
        grad_y = grad * x * ctx.scale if ctx.needs_input_grad[1] else None
        return grad_x, grad_y, None


def test_a_user_function_works_like_pytorchs():
    x, y = leaf([1.0, 2.0]), tt.tensor([3.0, 4.0], dtype=np.float64)
    out = ScaledProduct.apply(x, y, 0.5)
    assert ScaledProduct.seen["forward types"] == (np.ndarray, np.ndarray, float)
    assert out.grad_fn == "ScaledProduct"
    np.testing.assert_array_equal(out.data, [1.5, 4.0])
    out.sum().backward()
    assert ScaledProduct.seen["needs_input_grad"] == (True, False, False)
    np.testing.assert_array_equal(x.grad, [1.5, 2.0])
    assert y.grad is None
    assert tt.gradcheck(lambda a, b: ScaledProduct.apply(a, b, 0.5), [leaf([1.0, 2.0]),
                                                                       leaf([3.0, -4.0])])


def test_a_user_function_may_return_its_gradient_in_the_broadcast_shape():
    class AddBias(tt.Function):
        @staticmethod
        def forward(ctx, x, bias):
            return x + bias

        @staticmethod
        def backward(ctx, grad):
            return grad, grad          # the engine sums bias's back to (3,)

    x, bias = leaf(np.ones((2, 3))), leaf([1.0, 2.0, 3.0])
    AddBias.apply(x, bias).sum().backward()
    np.testing.assert_array_equal(bias.grad, [2.0, 2.0, 2.0])


def test_a_user_function_returning_none_for_an_input_passes_no_gradient():
    class StopGradient(tt.Function):
        @staticmethod
        def forward(ctx, x):
            return x.copy()

        @staticmethod
        def backward(ctx, grad):
            return None                # as in PyTorch: no gradient flows back through here

    x = leaf([1.0, 2.0])
    other = leaf([3.0])
    (StopGradient.apply(x * 2.0).sum() + other.sum()).backward()
    assert x.grad is None
    np.testing.assert_array_equal(other.grad, [1.0])


class Halves(tt.Function):
    """Two outputs: the first and the second half of a vector, each doubled."""

    @staticmethod
    def forward(ctx, x):
        n = len(x) // 2
        return 2.0 * x[:n], 2.0 * x[n:]

    @staticmethod
    def backward(ctx, grad_first, grad_second):
        return 2.0 * np.concatenate([grad_first, grad_second])


def test_a_multi_output_function_with_an_unused_output():
    x = leaf([1.0, 2.0, 3.0, 4.0])
    first, second = Halves.apply(x)
    assert first._node is second._node
    (first * 3.0).sum().backward()              # `second` unused: it gets zeros
    np.testing.assert_array_equal(x.grad, [6.0, 6.0, 0.0, 0.0])


def test_split_with_unused_pieces():
    x = leaf(np.arange(6.0))
    pieces = x.split(2)
    assert len(pieces) == 3
    pieces[1].sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 0, 1, 1, 0, 0])


# ----- retain_grad, aliasing, repr --------------------------------------------------------------

def test_retain_grad_keeps_a_non_leaf_gradient():
    x = leaf([1.0, 2.0])
    hidden = x * 3.0
    hidden.retain_grad()
    other = x * 5.0                                  # not retained
    (hidden * hidden + other).sum().backward()
    np.testing.assert_array_equal(hidden.grad, [6.0, 12.0])         # 2 * hidden
    assert other.grad is None
    np.testing.assert_array_equal(x.grad, [18.0 + 5.0, 36.0 + 5.0])


def test_a_retained_gradient_is_memory_of_its_own():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    total = a + b
    total.retain_grad()
    total.backward(np.ones(2))
    a.grad *= 10.0                                   # e.g. gradient clipping, in place
    np.testing.assert_array_equal(total.grad, [1.0, 1.0])
    total.grad += 1.0                                # and it can be changed in place itself
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])


@pytest.mark.parametrize("make", [
    lambda a, b: a + b,                               # both get the very same array
    lambda a, b: (a + b) * 1.0,
    lambda a, b: tt.cat([a, b]).reshape(2, 2).sum(dim=0).sum() * tt.ones(2),
    lambda a, b: a.reshape(2, 1).sum(dim=1) + b.reshape(1, 2).sum(dim=0),
    lambda a, b: a.expand(3, 2) + b,                  # a read-only broadcast view
])
def test_leaf_gradients_never_share_memory(make):
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    make(a, b).sum().backward()
    expected_b = b.grad.copy()
    a.grad *= 100.0
    np.testing.assert_array_equal(b.grad, expected_b)
    assert a.grad.flags.writeable and b.grad.flags.writeable


def test_repr_shows_shape_dtype_grad_fn_and_requires_grad():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    text = repr(y)
    for part in ("shape=(2,)", "dtype=float32", "grad_fn=<Mul>", "requires_grad=True", "2., 4."):
        assert part in text, text
    assert "grad_fn" not in repr(x) and "requires_grad=True" in repr(x)
    plain = repr(tt.zeros(2, 3, dtype=np.float64))
    assert "shape=(2, 3)" in plain and "float64" in plain and "requires_grad" not in plain
    assert y.grad_fn == "Mul" and x.grad_fn is None


# ----- the Tensor and its constructors ----------------------------------------------------------

def test_tensor_basics():
    x = tt.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert x.shape == (2, 2) and x.ndim == 2 and x.numel() == 4 and len(x) == 2
    assert isinstance(x.data, np.ndarray) and x.numpy() is x.data
    assert x.sum().item() == 10.0
    assert x.T.tolist() == [[1.0, 3.0], [2.0, 4.0]]
    assert x.grad is None and not x.requires_grad and x.is_leaf


def test_tensor_copies_its_data():
    values = np.array([1.0, 2.0])
    x = tt.tensor(values)
    values[0] = 100.0
    assert x.data[0] == 1.0


@pytest.mark.parametrize("data, what", [
    (np.array([1.0, None], dtype=object), "Python objects"),
    ([1, None], "Python objects"),
    ({"a": 1}, "Python objects"),
    ("abc", "text"),
    (np.array([b"ab"]), "bytes"),
    (np.array(["2024-01-01"], dtype="datetime64[D]"), "values that are not numbers"),
])
def test_data_that_is_not_numbers_is_refused_at_once(data, what):
    with pytest.raises(TypeError, match=f"a tensor holds numbers, not {what}"):
        tt.tensor(data)
    with pytest.raises(TypeError, match="a tensor holds numbers"):
        tt.Tensor(data if not isinstance(data, np.ndarray) else data.tolist())


def test_a_dtype_that_holds_no_numbers_is_refused_before_converting():
    for make in (lambda: tt.tensor([1, 2], dtype=object), lambda: tt.zeros(2, dtype=str),
                 lambda: tt.ones(2, dtype=object)):
        with pytest.raises(TypeError, match="a tensor holds numbers, not dtype"):
            make()
    assert tt.tensor([True, False]).dtype == np.bool_           # bool, ints, complex are numbers
    assert tt.tensor(np.arange(3, dtype=np.uint8)).dtype == np.uint8
    assert tt.tensor([1 + 2j]).dtype == np.complex128


def test_constructors():
    assert tt.zeros(2, 3).tolist() == [[0.0] * 3] * 2
    assert tt.ones((2,)).tolist() == [1.0, 1.0]
    assert tt.zeros(2, requires_grad=True).requires_grad
    assert tt.arange(4).tolist() == [0, 1, 2, 3]
    assert tt.arange(1, 7, 2).tolist() == [1, 3, 5]
    np.testing.assert_allclose(tt.arange(0.0, 1.0, 0.25).data, [0.0, 0.25, 0.5, 0.75])
    assert tt.zeros_like(tt.ones(2, 2)).shape == (2, 2)
    assert tt.ones_like(tt.zeros(3)).tolist() == [1.0] * 3


def test_randn_is_reproducible_with_a_generator():
    a = tt.randn(3, 4, generator=np.random.default_rng(7))
    b = tt.randn(3, 4, generator=np.random.default_rng(7))
    c = tt.randn(3, 4, generator=np.random.default_rng(8))
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.array_equal(a.data, c.data) and a.shape == (3, 4)
