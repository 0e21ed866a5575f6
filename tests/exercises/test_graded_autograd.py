"""Graded tests of the autograd chapter (02_autograd.py): tanh's backward, undoing
broadcasting, and the topological order of the backward walk.

Each class grades one exercise (tests/exercise_tests.py maps them); the tests call the
exercise's function directly where they can, so that it is graded on its own.
"""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinytorch as tt
from exercise_checks import check_backward, run_backward, run_forward
from tinytorch.autograd import _topological_order, unbroadcast
from tinytorch.ops.elementwise import Tanh


class TestTanhBackward:
    @pytest.mark.parametrize("shape", [(), (5,), (3, 4)])
    def test_matches_central_differences(self, shape):
        rng = np.random.default_rng(len(shape))
        x = rng.uniform(-3.0, 3.0, shape)          # tanh is far from linear out there
        check_backward(Tanh, [x], rng.standard_normal(shape))

    def test_by_hand(self):
        ctx, out = run_forward(Tanh, np.array([0.0, math.atanh(0.5), -math.atanh(0.8)]))
        (grad_x,) = run_backward(Tanh, ctx, np.array([2.0, 1.0, -1.0]))
        np.testing.assert_allclose(grad_x, [2.0, 0.75, -0.36], rtol=1e-12)

    def test_float32_and_the_shape(self):
        x = np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3)
        ctx, _ = run_forward(Tanh, x)
        (grad_x,) = run_backward(Tanh, ctx, np.ones((2, 3), np.float32))
        assert grad_x.shape == (2, 3)
        np.testing.assert_allclose(grad_x, 1.0 / np.cosh(x.astype(np.float64)) ** 2, rtol=1e-5)


def brute_force_unbroadcast(grad, shape):
    """Sum grad over every axis an input of `shape` was broadcast along, axis by axis."""
    extra = grad.ndim - len(shape)
    axes = [axis for axis in range(grad.ndim)
            if axis < extra or (shape[axis - extra] == 1 and grad.shape[axis] != 1)]
    return np.sum(grad, axis=tuple(axes)).reshape(shape)


@st.composite
def broadcast_cases(draw):
    """(grad shape, input shape): an input shape that broadcasts to the gradient's shape."""
    out_shape = draw(st.lists(st.integers(1, 4), min_size=0, max_size=4))
    n_dropped = draw(st.integers(0, len(out_shape)))
    kept = out_shape[n_dropped:]
    in_shape = [1 if draw(st.booleans()) else n for n in kept]
    return tuple(out_shape), tuple(in_shape)


class TestUnbroadcast:
    @pytest.mark.parametrize("grad_shape, shape", [
        ((2, 3, 4), (3, 1)),         # a new leading axis and a stretched last one
        ((2, 3), (3,)),              # a new leading axis only
        ((2, 3), (2, 1)),            # the last axis stretched
        ((2, 3), (1, 3)),            # the first axis stretched
        ((4,), ()),                  # a scalar
        ((2, 3), (1, 1)),            # both stretched
        ((2, 3, 4), (2, 1, 4)),      # a middle axis stretched
        ((5, 1, 3), (1, 3)),         # a size-1 axis that was not stretched
        ((2, 3), (2, 3)),            # no broadcasting at all
    ])
    def test_cases_by_shape(self, grad_shape, shape):
        grad = np.arange(math.prod(grad_shape), dtype=np.float64).reshape(grad_shape) + 1.0
        result = unbroadcast(grad, shape)
        assert np.shape(result) == shape
        np.testing.assert_array_equal(result, brute_force_unbroadcast(grad, shape))

    def test_by_hand(self):
        grad = np.ones((2, 3, 4))
        np.testing.assert_array_equal(unbroadcast(grad, (3, 1)), np.full((3, 1), 8.0))

    @given(case=broadcast_cases(), seed=st.integers(0, 1000))
    def test_any_broadcast(self, case, seed):
        grad_shape, shape = case
        grad = np.random.default_rng(seed).standard_normal(grad_shape)
        result = unbroadcast(grad.copy(), shape)
        assert np.shape(result) == shape
        np.testing.assert_allclose(result, brute_force_unbroadcast(grad, shape), rtol=1e-12,
                                   atol=1e-12)

    def test_a_read_only_gradient_is_only_read(self):
        grad = np.broadcast_to(np.arange(3.0), (2, 3))        # read-only, as ops may return
        np.testing.assert_array_equal(unbroadcast(grad, (1, 3)), [[0.0, 2.0, 4.0]])
        np.testing.assert_array_equal(unbroadcast(grad, (2, 3)), grad)


# ----- the topological sort ---------------------------------------------------------------------
# The graphs use only ops that are not exercises (add, mul, exp, sum): a graded test of the
# walk must not depend on another exercise.

def leaf(values):
    return tt.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def assert_valid_order(root_tensor):
    """The order of the nodes behind root_tensor: root first, each node once, every node
    before the nodes that made its inputs; returns it."""
    root = root_tensor._node
    order = _topological_order(root)
    assert order[0] is root, "the order must start with the root"
    position = {}
    for index, node in enumerate(order):
        assert node not in position, f"{node} is listed twice"
        position[node] = index
    reachable = set(tt.graph.nodes(root_tensor))
    assert set(order) == reachable, "the order must hold every node reachable from the root"
    for node in order:
        for tensor in node.inputs:
            parent = getattr(tensor, "_node", None)
            if parent is not None:
                assert position[parent] > position[node], (
                    f"{parent} made an input of {node}, so it must come after it")
    return order


class TestTopologicalSort:
    @pytest.mark.parametrize("y_first", [True, False])
    def test_a_diamond_gets_every_path(self, y_first):
        # y feeds the sum twice, once through exp: its node must wait for both consumers,
        # whichever order the sum's inputs come in.
        x = leaf([0.1, -0.3])
        y = x * 2.0
        total = (y + y.exp()) if y_first else (y.exp() + y)
        total.sum().backward()
        np.testing.assert_allclose(x.grad, 2.0 * (1.0 + np.exp(2.0 * x.data)), rtol=1e-12)

    def test_the_issue_example(self):
        # y = 2x, (y + e^y * e^y).sum(): a path of length 1 and one of length 3 from the sum.
        x = leaf([0.2, 0.7])
        y = x * 2.0
        ((y + y.exp() * y.exp()).sum()).backward()
        np.testing.assert_allclose(x.grad, 2.0 + 4.0 * np.exp(4.0 * x.data), rtol=1e-12)

    def test_order_of_a_graph_with_shared_parts(self):
        x, w = leaf([0.5, -1.0, 2.0]), leaf([1.5, 0.5, -0.5])
        a = x * w
        b = a.exp()
        c = a + b
        d = c * a
        e = (d + b * x).sum()
        assert_valid_order(e)

    @given(seed=st.integers(0, 10_000))
    def test_order_of_random_graphs(self, seed):
        # each new tensor combines two earlier ones: many paths of different lengths
        rng = np.random.default_rng(seed)
        tensors = [leaf(rng.uniform(-1, 1, 3)) for _ in range(3)]
        for _ in range(25):
            i, j = rng.integers(0, len(tensors), size=2)
            op = rng.integers(0, 3)
            a, b = tensors[i], tensors[j]
            tensors.append(a + b if op == 0 else a * b if op == 1 else (a * 0.3).exp() + b)
        total = tensors[-1]
        for t in tensors[3:-1]:
            total = total + t * 0.5
        assert_valid_order(total.sum())

    def test_gradients_of_a_random_graph_match_central_differences(self):
        rng = np.random.default_rng(7)
        x = leaf(rng.uniform(-1, 1, 4))

        def f(t):
            a = t * 1.5
            b = (a * 0.5).exp()
            c = a * b + a
            d = c * (b + t)
            return (d + c.exp() * 0.1 + a).sum()

        f(x).backward()
        eps, numeric = 1e-6, []
        for i in range(4):
            plus, minus = x.data.copy(), x.data.copy()
            plus[i] += eps
            minus[i] -= eps
            numeric.append((f(tt.tensor(plus)).item() - f(tt.tensor(minus)).item()) / (2 * eps))
        np.testing.assert_allclose(x.grad, numeric, rtol=1e-6)

    def test_a_node_reached_along_many_paths_is_listed_once(self):
        x = leaf([1.0, 2.0])
        y = x * 3.0
        total = y
        for _ in range(30):
            total = total + y
        order = assert_valid_order(total.sum())
        assert sum(node is y._node for node in order) == 1
        total.sum().backward()
        np.testing.assert_allclose(x.grad, [93.0, 93.0])

    def test_ten_thousand_ops_do_not_hit_the_recursion_limit(self):
        x = leaf([0.5])
        y = x
        for _ in range(10_000):
            y = y * 1.0001
        y.sum().backward()
        np.testing.assert_allclose(x.grad, [1.0001 ** 10_000], rtol=1e-9)

    def test_a_released_graph_cannot_be_walked_again(self):
        x = leaf([1.0, 2.0])
        y = x.exp()
        y.sum().backward()                  # frees y's node
        with pytest.raises(RuntimeError, match="retain_graph"):
            (y * 2.0).sum().backward()
