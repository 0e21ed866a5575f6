"""Graded tests of the transformer-block chapter (08_transformer_block.py): layer norm's
backward and GELU's derivative, against central differences of their forward passes."""
import math

import numpy as np
import pytest

from exercise_checks import numeric_gradient
from tinytorch.functional.activations import gelu_derivative, gelu_with_tanh
from tinytorch.functional.normalization import normalize_backward, normalize_rows


def layer_norm_rows(x, weight, eps=1e-5):
    """y = xhat * weight (weight None: xhat) for rows (N, D), in NumPy."""
    xhat = (x - x.mean(axis=1, keepdims=True)) / np.sqrt(x.var(axis=1, keepdims=True) + eps)
    return xhat if weight is None else xhat * weight


class TestLayerNormBackward:
    @pytest.mark.parametrize("with_weight", [True, False])
    @pytest.mark.parametrize("N, D", [(4, 6), (1, 5), (3, 2)])
    def test_matches_central_differences(self, with_weight, N, D):
        rng = np.random.default_rng(N * D)
        x = rng.standard_normal((N, D)) * 2.0 + rng.standard_normal((N, 1)) * 3.0
        weight = rng.standard_normal(D) if with_weight else None
        grad = rng.standard_normal((N, D))
        xhat, rstd = normalize_rows(x, 1e-5)
        grad_copy, xhat_copy = grad.copy(), xhat.copy()
        grad_x = normalize_backward(grad, xhat, rstd, weight)
        numeric = numeric_gradient(lambda: float(np.sum(layer_norm_rows(x, weight) * grad)), x)
        np.testing.assert_allclose(grad_x, numeric, rtol=1e-5, atol=1e-7)
        np.testing.assert_array_equal(grad, grad_copy, err_msg="grad was written into")
        np.testing.assert_array_equal(xhat, xhat_copy, err_msg="xhat was written into")

    def test_rows_of_very_different_scales(self):
        x = np.array([[1e-3, 2e-3, -1e-3, 0.0], [100.0, -50.0, 20.0, 10.0]])
        grad = np.array([[1.0, -2.0, 0.5, 3.0], [0.3, 0.2, -0.1, 1.0]])
        xhat, rstd = normalize_rows(x, 1e-5)
        numeric = numeric_gradient(lambda: float(np.sum(layer_norm_rows(x, None) * grad)), x,
                                   eps=1e-8)
        np.testing.assert_allclose(normalize_backward(grad, xhat, rstd, None), numeric,
                                   rtol=1e-4, atol=1e-6)

    def test_a_constant_gradient_gives_zero(self):
        # shifting all of a row's y by the same amount is not possible through x: the mean
        # is removed, so a gradient that is the same for every element of a row gives 0
        xhat, rstd = normalize_rows(np.random.default_rng(1).standard_normal((3, 5)), 1e-5)
        grad_x = normalize_backward(np.full((3, 5), 2.0), xhat, rstd, None)
        np.testing.assert_allclose(grad_x, 0.0, atol=1e-12)


def gelu(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


class TestGeluDerivative:
    @pytest.mark.parametrize("shape", [(41,), (3, 7)])
    def test_matches_central_differences(self, shape):
        x = np.linspace(-6.0, 6.0, math.prod(shape)).reshape(shape)
        _, t = gelu_with_tanh(x)
        x_copy, t_copy = x.copy(), t.copy()
        slope = gelu_derivative(x, t)
        eps = 1e-6
        np.testing.assert_allclose(slope, (gelu(x + eps) - gelu(x - eps)) / (2 * eps),
                                   rtol=1e-6, atol=1e-9)
        np.testing.assert_array_equal(x, x_copy, err_msg="x was written into")
        np.testing.assert_array_equal(t, t_copy, err_msg="t was written into")

    def test_by_hand(self):
        x = np.array([0.0, 1.0, -1.0])
        _, t = gelu_with_tanh(x)
        c, a = math.sqrt(2.0 / math.pi), 0.044715
        u = c * (1.0 + a)
        expected_at_one = 0.5 * (1.0 + math.tanh(u)) + 0.5 * (1.0 - math.tanh(u) ** 2) * c * (
            1.0 + 3.0 * a)
        np.testing.assert_allclose(gelu_derivative(x, t),
                                   [0.5, expected_at_one, 1.0 - expected_at_one], rtol=1e-12)
