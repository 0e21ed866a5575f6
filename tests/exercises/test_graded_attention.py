"""Graded tests of the attention chapter (07_attention.py): causal scaled dot-product attention
built from Tensor ops (the composed twin), against a NumPy reference."""
import math

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.functional import composed
from tinytorch.functional.dropout import keep_mask


def reference_attention(q, k, v, is_causal, dropout_p=0.0, seed=None):
    """softmax(q k^T / sqrt(D) + mask) (dropped out) @ v in NumPy, float64."""
    scores = q @ k.swapaxes(-1, -2) / math.sqrt(q.shape[-1])
    if is_causal:
        n_queries, n_keys = q.shape[-2], k.shape[-2]
        query_position = n_keys - n_queries + np.arange(n_queries)[:, None]
        scores = np.where(np.arange(n_keys)[None, :] > query_position, -np.inf, scores)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
    if dropout_p > 0.0:
        keep = keep_mask(weights.shape, dropout_p, np.random.default_rng(seed))
        weights = weights * keep / (1.0 - dropout_p)
    return weights @ v


def qkv(seed, B=2, H=3, Tq=4, Tk=4, D=5, scale=1.0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(dtype) * scale
            for shape in ((B, H, Tq, D), (B, H, Tk, D), (B, H, Tk, D))]


def attend(arrays, **kwargs):
    q, k, v = (tt.tensor(a, requires_grad=True) for a in arrays)
    return composed.scaled_dot_product_attention(q, k, v, **kwargs), (q, k, v)


class TestCausalAttention:
    @pytest.mark.parametrize("is_causal", [False, True])
    @pytest.mark.parametrize("Tq, Tk", [(4, 4), (1, 4), (2, 5), (6, 6)])
    def test_matches_numpy(self, is_causal, Tq, Tk):
        arrays = qkv(Tq + Tk, Tq=Tq, Tk=Tk)
        out, _ = attend(arrays, is_causal=is_causal)
        assert out.shape == (2, 3, Tq, 5)
        np.testing.assert_allclose(out.data, reference_attention(*arrays, is_causal), rtol=1e-10,
                                   atol=1e-12)

    def test_a_position_never_sees_the_future(self):
        q, k, v = qkv(1, Tq=5, Tk=5)
        before, _ = attend([q, k, v], is_causal=True)
        k2, v2 = k.copy(), v.copy()
        k2[:, :, 3:] += 10.0
        v2[:, :, 3:] -= 10.0
        after, _ = attend([q, k2, v2], is_causal=True)
        np.testing.assert_allclose(after.data[:, :, :3], before.data[:, :, :3], rtol=1e-12)
        assert not np.allclose(after.data[:, :, 3:], before.data[:, :, 3:])

    def test_the_first_query_sees_only_the_first_key(self):
        q, k, v = qkv(2, Tq=3, Tk=3)
        out, _ = attend([q, k, v], is_causal=True)
        np.testing.assert_allclose(out.data[:, :, 0], v[:, :, 0], rtol=1e-12)

    def test_large_scores_stay_finite(self):
        arrays = qkv(3, D=4, scale=30.0)                 # scores in the hundreds
        out, _ = attend(arrays, is_causal=True)
        assert np.isfinite(out.data).all()
        np.testing.assert_allclose(out.data, reference_attention(*arrays, True), rtol=1e-9,
                                   atol=1e-9)

    @pytest.mark.parametrize("is_causal", [False, True])
    def test_gradients_flow_to_q_k_and_v(self, is_causal):
        arrays = qkv(4, B=1, H=2, Tq=3, Tk=4, D=3)
        out, inputs = attend(arrays, is_causal=is_causal)
        grad_out = np.random.default_rng(5).standard_normal(out.shape)
        out.backward(grad_out)
        eps = 1e-6
        for which, tensor in enumerate(inputs):
            assert tensor.grad is not None, f"no gradient reached input {which}"
            numeric = np.zeros_like(arrays[which])
            for index in np.ndindex(arrays[which].shape):
                nudged = [a.copy() for a in arrays]
                nudged[which][index] += eps
                plus = np.sum(reference_attention(*nudged, is_causal) * grad_out)
                nudged[which][index] -= 2 * eps
                minus = np.sum(reference_attention(*nudged, is_causal) * grad_out)
                numeric[index] = (plus - minus) / (2 * eps)
            np.testing.assert_allclose(tensor.grad, numeric, rtol=1e-5, atol=1e-8)

    def test_dropout_on_the_weights(self):
        arrays = qkv(6, Tq=4, Tk=4)
        out, _ = attend(arrays, is_causal=True, dropout_p=0.4,
                        generator=np.random.default_rng(11))
        expected = reference_attention(*arrays, True, dropout_p=0.4, seed=11)
        np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-12)
        assert not np.allclose(out.data, reference_attention(*arrays, True))

    def test_no_dropout_without_dropout_p(self):
        arrays = qkv(7)
        out, _ = attend(arrays, is_causal=True, dropout_p=0.0,
                        generator=np.random.default_rng(0))
        np.testing.assert_allclose(out.data, reference_attention(*arrays, True), rtol=1e-10)

    def test_float32_stays_float32(self):
        arrays = qkv(8, dtype=np.float32)
        out, _ = attend(arrays, is_causal=True)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out.data, reference_attention(
            *(a.astype(np.float64) for a in arrays), True), rtol=1e-4, atol=1e-5)
