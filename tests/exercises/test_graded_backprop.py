"""Graded tests of the backprop-by-hand chapter (03_backprop_by_hand.py): the backward passes
of matmul, softmax, log-softmax and cross-entropy.

Each backward is called directly on the ctx its forward filled (no engine), compared with
central differences in float64, and checked to leave its incoming gradient and what forward
saved as they were (the same gradient array may go to several inputs, and backward may run
twice with retain_graph).
"""
import numpy as np
import pytest

from exercise_checks import check_backward, run_backward, run_forward
from tinytorch.functional.activations import LogSoftmax, Softmax
from tinytorch.functional.loss import CrossEntropy
from tinytorch.ops.matmul import MatMul


def normal(seed, *shape, scale=1.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


class TestMatmulBackward:
    @pytest.mark.parametrize("a_shape, b_shape", [
        ((3, 4), (4, 5)),            # two matrices
        ((4, 4), (4, 4)),            # square: a missing transpose gives wrong numbers, no error
        ((2, 3, 4), (4, 5)),         # a batch times a weight matrix
        ((2, 3, 4), (2, 4, 5)),      # a batch times a batch
        ((2, 1, 3, 4), (5, 4, 2)),   # batch dims that broadcast
        ((3, 3), (2, 3, 3)),         # a matrix times a batch
        ((4,), (4,)),                # a dot product
        ((4,), (4, 5)),              # a vector times a matrix
        ((3, 4), (4,)),              # a matrix times a vector
        ((2, 3, 4), (4,)),           # a batch times a vector
        ((4,), (2, 4, 5)),           # a vector times a batch
    ])
    def test_matches_central_differences(self, a_shape, b_shape):
        a, b = normal(1, *a_shape), normal(2, *b_shape)
        out_shape = np.matmul(a, b).shape
        check_backward(MatMul, [a, b], normal(3, *out_shape))

    def test_by_hand(self):
        a = np.array([[1.0, 2.0], [3.0, 4.0]])
        b = np.array([[5.0, 6.0], [7.0, 8.0]])
        ctx, _ = run_forward(MatMul, a, b)
        grad_a, grad_b = run_backward(MatMul, ctx, np.array([[1.0, 0.0], [0.0, 1.0]]))
        np.testing.assert_array_equal(grad_a, b.T)          # grad @ b^T with grad = I
        np.testing.assert_array_equal(grad_b, a.T)          # a^T @ grad


def check_rowwise_backward(function, shape, dim, seed, scale=1.0):
    x = normal(seed, *shape, scale=scale)
    check_backward(function, [x, dim], normal(seed + 1, *shape))


class TestSoftmaxBackward:
    @pytest.mark.parametrize("shape, dim", [((5,), 0), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1),
                                            ((2, 3, 4), -1), ((4, 1), 1)])
    def test_matches_central_differences(self, shape, dim):
        check_rowwise_backward(Softmax, shape, dim, seed=len(shape) + dim)

    def test_large_logits(self):
        check_rowwise_backward(Softmax, (3, 5), -1, seed=4, scale=30.0)

    def test_by_hand(self):
        # softmax([0, ln 3]) = [1/4, 3/4]; with g = [1, 0]: s * (g - s.g) = [3/16, -3/16]
        ctx, _ = run_forward(Softmax, np.array([0.0, np.log(3.0)]), 0)
        grad_x = run_backward(Softmax, ctx, np.array([1.0, 0.0]))[0]
        np.testing.assert_allclose(grad_x, [3 / 16, -3 / 16], rtol=1e-12)


class TestLogSoftmaxBackward:
    @pytest.mark.parametrize("shape, dim", [((5,), 0), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1),
                                            ((2, 3, 4), -1)])
    def test_matches_central_differences(self, shape, dim):
        check_rowwise_backward(LogSoftmax, shape, dim, seed=10 + len(shape) + dim)

    def test_large_logits(self):
        check_rowwise_backward(LogSoftmax, (3, 5), -1, seed=5, scale=30.0)

    def test_by_hand(self):
        # log softmax([0, ln 3]); with g = [1, 1]: g - s * sum(g) = [1 - 2/4, 1 - 6/4]
        ctx, _ = run_forward(LogSoftmax, np.array([0.0, np.log(3.0)]), 0)
        grad_x = run_backward(LogSoftmax, ctx, np.array([1.0, 1.0]))[0]
        np.testing.assert_allclose(grad_x, [0.5, -0.5], rtol=1e-12)


class TestCrossEntropyBackward:
    TARGETS = np.array([2, -100, 0, 3, 1, -100])       # two rows ignored

    @pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
    def test_matches_central_differences(self, reduction):
        logits = normal(20, 6, 4)
        grad = normal(21, 6) if reduction == "none" else np.asarray(1.7)
        check_backward(CrossEntropy, [logits, self.TARGETS, -100, reduction], grad)

    @pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
    def test_without_ignored_rows(self, reduction):
        logits = normal(22, 5, 3, scale=3.0)
        grad = normal(23, 5) if reduction == "none" else np.asarray(-0.6)
        check_backward(CrossEntropy, [logits, np.array([0, 2, 1, 1, 0]), -100, reduction], grad)

    def test_by_hand(self):
        # one row, p = [1/4, 3/4], target 1: grad = p - onehot = [1/4, -1/4]; the ignored row 0
        logits = np.array([[0.0, np.log(3.0)], [5.0, -5.0]])
        ctx, _ = run_forward(CrossEntropy, logits, np.array([1, -100]), -100, "mean")
        grad_logits = run_backward(CrossEntropy, ctx, np.asarray(2.0))[0]
        np.testing.assert_allclose(grad_logits, [[0.5, -0.5], [0.0, 0.0]], rtol=1e-12, atol=0)

    def test_every_row_ignored_gives_zeros(self):
        ctx, loss = run_forward(CrossEntropy, normal(24, 3, 4), np.full(3, -100), -100, "mean")
        grad_logits = run_backward(CrossEntropy, ctx, np.asarray(1.0))[0]
        assert loss == 0.0
        np.testing.assert_array_equal(grad_logits, np.zeros((3, 4)))

    def test_a_custom_ignore_index(self):
        logits = normal(25, 4, 3)
        check_backward(CrossEntropy, [logits, np.array([0, 7, 2, 7]), 7, "mean"],
                       np.asarray(1.0))
