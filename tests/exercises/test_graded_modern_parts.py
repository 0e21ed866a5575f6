"""Graded tests of the parts of today's open models (Llama, Qwen): RMSNorm's backward, the
rotary rotation, SwiGLU's backward and the repetition of key/value heads for grouped-query
attention. Each exercise is a function on plain arrays (or, for repeat_kv, Tensor ops), tested
against NumPy references and central differences in float64."""
import numpy as np
import pytest

import tinytorch as tt
from exercise_checks import numeric_gradient
from tinytorch.functional.composed import repeat_kv
from tinytorch.functional.mlp import swiglu_backward
from tinytorch.functional.normalization import rms_normalize_backward, rms_normalize_rows
from tinytorch.functional.rotary import apply_rotation


def rms_norm_rows(x, weight, eps=1e-6):
    """y = x / sqrt(mean(x^2) + eps) * weight for rows (N, D), in NumPy."""
    y = x / np.sqrt((x * x).mean(axis=1, keepdims=True) + eps)
    return y if weight is None else y * weight


class TestRmsNormBackward:
    @pytest.mark.parametrize("with_weight", [True, False])
    @pytest.mark.parametrize("N, D", [(4, 6), (1, 5), (3, 2)])
    def test_matches_central_differences(self, with_weight, N, D):
        rng = np.random.default_rng(N * D + with_weight)
        x = rng.standard_normal((N, D)) * 2.0 + 1.5          # a mean far from 0: not layer norm
        weight = rng.standard_normal(D) if with_weight else None
        grad = rng.standard_normal((N, D))
        xhat, rstd = rms_normalize_rows(x, 1e-6)
        grad_copy, xhat_copy = grad.copy(), xhat.copy()
        grad_x = rms_normalize_backward(grad, xhat, rstd, weight)
        numeric = numeric_gradient(lambda: float(np.sum(rms_norm_rows(x, weight) * grad)), x)
        np.testing.assert_allclose(grad_x, numeric, rtol=1e-5, atol=1e-7)
        np.testing.assert_array_equal(grad, grad_copy, err_msg="grad was written into")
        np.testing.assert_array_equal(xhat, xhat_copy, err_msg="xhat was written into")

    def test_by_hand_for_one_row_of_two(self):
        # x = (3, 4): mean(x^2) = 12.5, rstd = 1/sqrt(12.5); with g = (1, 0) and no weight,
        # dL/dx = rstd * (g - xhat * mean(g * xhat)), xhat = x * rstd
        x = np.array([[3.0, 4.0]])
        xhat, rstd = rms_normalize_rows(x, 0.0)
        r = 1.0 / np.sqrt(12.5)
        expected = r * (np.array([1.0, 0.0]) - x[0] * r * (3.0 * r / 2.0))
        np.testing.assert_allclose(rms_normalize_backward(np.array([[1.0, 0.0]]), xhat, rstd,
                                                          None)[0], expected, rtol=1e-12)

    def test_scaling_a_row_changes_nothing_so_the_gradient_is_orthogonal_to_it(self):
        rng = np.random.default_rng(3)
        x, grad = rng.standard_normal((3, 7)), rng.standard_normal((3, 7))
        xhat, rstd = rms_normalize_rows(x, 0.0)
        grad_x = rms_normalize_backward(grad, xhat, rstd, rng.standard_normal(7))
        np.testing.assert_allclose((grad_x * x).sum(axis=1), 0.0, atol=1e-12)


def rotation_reference(x, cos, sin):
    """x * cos + rotate_half(x) * sin, rotate_half([x1, x2]) = [-x2, x1], in NumPy."""
    half = x.shape[-1] // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + rotated * sin


class TestApplyRotation:
    @pytest.mark.parametrize("shape", [(2, 3, 5, 8), (4, 6), (1, 1, 3, 2)])
    def test_matches_numpy_with_halves_that_differ(self, shape):
        rng = np.random.default_rng(len(shape))
        x = rng.standard_normal(shape)
        cos, sin = rng.standard_normal(shape[-2:]), rng.standard_normal(shape[-2:])
        x_copy = x.copy()
        out = apply_rotation(x, cos, sin)
        np.testing.assert_allclose(out, rotation_reference(x, cos, sin), rtol=1e-12)
        np.testing.assert_array_equal(x, x_copy, err_msg="x was written into")
        assert out is not x

    def test_each_pair_turns_by_its_angle_and_keeps_its_length(self):
        D, T = 6, 4
        angles = np.outer(np.arange(T), [0.3, 1.1, 2.0])               # (T, D/2)
        cos = np.cos(np.concatenate([angles, angles], axis=1))
        sin = np.sin(np.concatenate([angles, angles], axis=1))
        x = np.random.default_rng(5).standard_normal((T, D))
        out = apply_rotation(x, cos, sin)
        for i in range(D // 2):
            z_in = x[:, i] + 1j * x[:, i + D // 2]
            z_out = out[:, i] + 1j * out[:, i + D // 2]
            np.testing.assert_allclose(z_out, z_in * np.exp(1j * angles[:, i]), rtol=1e-12)

    def test_broadcasts_tables_over_batch_and_heads(self):
        rng = np.random.default_rng(7)
        x = rng.standard_normal((2, 3, 4, 6))
        cos, sin = rng.standard_normal((1, 1, 4, 6)), rng.standard_normal((4, 6))
        np.testing.assert_allclose(apply_rotation(x, cos, sin), rotation_reference(x, cos, sin),
                                   rtol=1e-12)


def swiglu_product(gate, up):
    return gate / (1.0 + np.exp(-gate)) * up


class TestSwigluBackward:
    @pytest.mark.parametrize("N, F", [(3, 4), (1, 7)])
    def test_matches_central_differences(self, N, F):
        rng = np.random.default_rng(N + F)
        gate, up, grad = (rng.standard_normal((N, F)) * 2.0 for _ in range(3))
        sigmoid = 1.0 / (1.0 + np.exp(-gate))
        act, slope = gate * sigmoid, sigmoid * (1.0 + gate * (1.0 - sigmoid))
        up_copy, act_copy, slope_copy = up.copy(), act.copy(), slope.copy()
        grad_gate, grad_up = swiglu_backward(grad.copy(), up, act, slope)
        numeric_gate = numeric_gradient(lambda: float(np.sum(swiglu_product(gate, up) * grad)),
                                        gate)
        numeric_up = numeric_gradient(lambda: float(np.sum(swiglu_product(gate, up) * grad)), up)
        np.testing.assert_allclose(grad_gate, numeric_gate, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(grad_up, numeric_up, rtol=1e-6, atol=1e-8)
        for name, array, copy in (("up", up, up_copy), ("act", act, act_copy),
                                  ("silu_slope", slope, slope_copy)):
            np.testing.assert_array_equal(array, copy, err_msg=f"{name} was written into")

    def test_by_hand(self):
        grad, up = np.array([[2.0, -1.0]]), np.array([[3.0, 0.5]])
        act, slope = np.array([[0.7, -0.2]]), np.array([[1.1, 0.4]])
        grad_gate, grad_up = swiglu_backward(grad.copy(), up, act, slope)
        np.testing.assert_allclose(grad_gate, [[2.0 * 3.0 * 1.1, -1.0 * 0.5 * 0.4]])
        np.testing.assert_allclose(grad_up, [[2.0 * 0.7, -1.0 * -0.2]])


class TestRepeatKv:
    @pytest.mark.parametrize("n_kv_heads, n_rep", [(2, 3), (1, 4), (3, 1)])
    def test_head_h_is_head_h_over_n_rep(self, n_kv_heads, n_rep):
        x = np.random.default_rng(n_rep).standard_normal((2, n_kv_heads, 5, 4))
        out = repeat_kv(tt.tensor(x), n_rep)
        assert out.shape == (2, n_kv_heads * n_rep, 5, 4)
        for h in range(n_kv_heads * n_rep):
            np.testing.assert_array_equal(out.data[:, h], x[:, h // n_rep])

    def test_the_gradient_of_each_head_sums_its_copies(self):
        rng = np.random.default_rng(9)
        x = tt.tensor(rng.standard_normal((1, 2, 3, 4)), requires_grad=True)
        grad = rng.standard_normal((1, 6, 3, 4))
        repeat_kv(x, 3).backward(grad)
        np.testing.assert_allclose(x.grad, grad.reshape(1, 2, 3, 3, 4).sum(axis=2), rtol=1e-12)

    def test_without_leading_axes(self):
        x = np.arange(2 * 3 * 2, dtype=np.float64).reshape(2, 3, 2)     # (Hkv, T, D)
        out = repeat_kv(tt.tensor(x), 2)
        np.testing.assert_array_equal(out.data, np.repeat(x, 2, axis=0))
