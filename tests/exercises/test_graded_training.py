"""Graded tests of the training chapter (10_train_tiny.py): one Adam/AdamW update, the warmup
and cosine learning-rate schedule, and clipping the gradients' joint norm."""
import math

import numpy as np
import pytest

import tinytorch as tt
from exercise_checks import read_only
from tinytorch.nn.utils import clip_grad_norm_
from tinytorch.optim import adam_update, warmup_cosine_lr


def adam_by_formula(param, grads, lr, beta1, beta2, eps, weight_decay, decoupled):
    """The parameter after one update per gradient in `grads`, in float64, from the
    formulas in Adam's and AdamW's docstrings."""
    p, m, v = param.astype(np.float64), 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p * (1.0 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        p = p - lr / (1 - beta1 ** t) * m / (np.sqrt(v) / math.sqrt(1 - beta2 ** t) + eps)
    return p


def run_updates(param, grads, lr, beta1, beta2, eps, weight_decay, decoupled):
    """adam_update on arrays, once per gradient; returns (param, m, v), the very arrays."""
    m, v = np.zeros_like(param), np.zeros_like(param)
    tmp = np.full_like(param, np.nan)                       # scratch: may hold anything
    for step, grad in enumerate(grads, start=1):
        grad_before = grad.copy()
        adam_update(param, grad, m, v, tmp, step, lr, beta1, beta2, eps, weight_decay, decoupled)
        np.testing.assert_array_equal(grad, grad_before, err_msg="the gradient was changed")
        tmp[...] = np.nan
    return param, m, v


GRADS = [read_only(g) for g in ([0.5, -2.0, 0.01, 3.0], [0.4, 1.0, -0.02, 3.0],
                                 [-0.3, 0.5, 0.03, 2.5], [0.2, -1.5, 0.0, 1.0])]


class TestAdamwStep:
    def test_the_first_step_moves_each_weight_by_lr(self):
        # bias-corrected, m / sqrt(v) is g / |g| at the first step: a step of lr, whatever g
        param, _, _ = run_updates(np.ones(4), GRADS[:1], 0.1, 0.9, 0.999, 1e-8, 0.0, False)
        np.testing.assert_allclose(param, [0.9, 1.1, 0.9, 0.9], rtol=1e-6)

    @pytest.mark.parametrize("decoupled", [False, True])
    @pytest.mark.parametrize("weight_decay", [0.0, 0.3])
    def test_four_steps_match_the_formulas(self, decoupled, weight_decay):
        start = np.array([1.0, -0.5, 2.0, 0.25])
        param, _, _ = run_updates(start.copy(), GRADS, 0.1, 0.8, 0.95, 1e-8, weight_decay,
                                  decoupled)
        expected = adam_by_formula(start, GRADS, 0.1, 0.8, 0.95, 1e-8, weight_decay, decoupled)
        np.testing.assert_allclose(param, expected, rtol=1e-10, atol=1e-12)

    def test_the_moments_are_kept_in_m_and_v(self):
        _, m, v = run_updates(np.ones(4), GRADS[:2], 0.1, 0.9, 0.99, 1e-8, 0.0, False)
        np.testing.assert_allclose(m, 0.9 * 0.1 * GRADS[0] + 0.1 * GRADS[1], rtol=1e-12)
        np.testing.assert_allclose(v, 0.99 * 0.01 * GRADS[0] ** 2 + 0.01 * GRADS[1] ** 2,
                                   rtol=1e-12)

    def test_eps_is_added_outside_the_square_root(self):
        start = np.array([1.0])
        grads = [np.array([1e-6])]
        param, _, _ = run_updates(start.copy(), grads, 0.1, 0.9, 0.999, 1e-3, 0.0, False)
        expected = adam_by_formula(start, grads, 0.1, 0.9, 0.999, 1e-3, 0.0, False)
        np.testing.assert_allclose(param, expected, rtol=1e-10)

    def test_float32_is_updated_in_place_in_float32(self):
        param = np.ones(4, np.float32)
        updated, m, v = run_updates(param, [g.astype(np.float32) for g in GRADS], 0.01, 0.9,
                                    0.999, 1e-8, 0.1, True)
        assert updated is param and param.dtype == m.dtype == v.dtype == np.float32
        expected = adam_by_formula(np.ones(4), GRADS, 0.01, 0.9, 0.999, 1e-8, 0.1, True)
        np.testing.assert_allclose(param, expected, rtol=1e-5)

    @pytest.mark.parametrize("optimizer_class, decoupled", [(tt.optim.Adam, False),
                                                            (tt.optim.AdamW, True)])
    def test_through_the_optimizer(self, optimizer_class, decoupled):
        start = np.array([[1.0, -0.5], [2.0, 0.25]])
        p = tt.tensor(start.copy(), requires_grad=True)
        optimizer = optimizer_class([p], lr=0.05, betas=(0.9, 0.98), weight_decay=0.2)
        for g in GRADS:
            p.grad = g.reshape(2, 2).copy()
            optimizer.step()
        expected = adam_by_formula(start.reshape(-1), GRADS, 0.05, 0.9, 0.98, 1e-8, 0.2,
                                   decoupled)
        np.testing.assert_allclose(p.data.reshape(-1), expected, rtol=1e-10)


class TestWarmupCosineLr:
    def lr(self, it):
        return warmup_cosine_lr(it, max_lr=1.0, min_lr=0.1, warmup_iters=10, decay_iters=110)

    def test_warmup_from_the_first_step(self):
        assert self.lr(0) == pytest.approx(1.0 / 11)
        assert self.lr(4) == pytest.approx(5.0 / 11)
        assert self.lr(9) == pytest.approx(10.0 / 11)

    def test_the_cosine(self):
        assert self.lr(10) == pytest.approx(1.0)
        assert self.lr(35) == pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi / 4)))
        assert self.lr(60) == pytest.approx(0.55)
        assert self.lr(85) == pytest.approx(0.1 + 0.45 * (1 + math.cos(3 * math.pi / 4)))
        assert self.lr(110) == pytest.approx(0.1)

    def test_min_lr_after_the_decay(self):
        assert [self.lr(it) for it in (111, 150, 10_000)] == pytest.approx([0.1, 0.1, 0.1])

    def test_rises_then_falls(self):
        rates = [self.lr(it) for it in range(130)]
        assert all(a < b for a, b in zip(rates[:10], rates[1:11]))
        assert all(a > b for a, b in zip(rates[10:110], rates[11:111]))
        assert isinstance(rates[0], float) and isinstance(rates[50], float)

    def test_no_warmup(self):
        assert warmup_cosine_lr(0, 3e-4, 3e-5, 0, 100) == pytest.approx(3e-4)
        assert warmup_cosine_lr(50, 3e-4, 3e-5, 0, 100) == pytest.approx(1.65e-4)

    def test_decay_ending_where_warmup_ends(self):
        assert warmup_cosine_lr(5, 1.0, 0.2, 10, 10) == pytest.approx(6.0 / 11)
        assert warmup_cosine_lr(10, 1.0, 0.2, 10, 10) == pytest.approx(0.2)
        assert warmup_cosine_lr(11, 1.0, 0.2, 10, 10) == pytest.approx(0.2)


def with_grads(*grads):
    params = []
    for g in grads:
        p = tt.tensor(np.zeros(np.shape(g), np.float32), requires_grad=True)
        p.grad = None if g is None else np.array(g, np.float32)
        params.append(p)
    return params


class TestClipGradNorm:
    def test_above_the_limit_all_are_scaled_alike(self):
        a, b = with_grads([3.0, 4.0], [[12.0]])                   # joint norm 13
        norm = clip_grad_norm_([a, b], 6.5)
        assert norm == pytest.approx(13.0)
        scale = 6.5 / (13.0 + 1e-6)
        np.testing.assert_allclose(a.grad, [3.0 * scale, 4.0 * scale], rtol=1e-6)
        np.testing.assert_allclose(b.grad, [[12.0 * scale]], rtol=1e-6)

    def test_below_the_limit_nothing_changes(self):
        a, b = with_grads([3.0, 4.0], [[12.0]])
        assert clip_grad_norm_([a, b], 20.0) == pytest.approx(13.0)
        np.testing.assert_array_equal(a.grad, [3.0, 4.0])
        np.testing.assert_array_equal(b.grad, [[12.0]])

    def test_returns_the_norm_before_clipping_as_a_float(self):
        (a,) = with_grads([[1.0, 2.0], [2.0, 4.0]])               # norm 5
        norm = clip_grad_norm_([a], 1.0)
        assert isinstance(norm, float) and norm == pytest.approx(5.0)
        assert float(np.sqrt(np.sum(a.grad.astype(np.float64) ** 2))) == pytest.approx(1.0,
                                                                                      rel=1e-5)

    def test_parameters_without_a_gradient_are_skipped(self):
        a, b, c = with_grads([6.0], None, [8.0])                  # norm 10
        assert clip_grad_norm_([a, b, c], 5.0) == pytest.approx(10.0)
        assert b.grad is None
        np.testing.assert_allclose([a.grad[0], c.grad[0]], [3.0, 4.0], rtol=1e-6)

    def test_a_generator_of_parameters(self):
        params = with_grads([6.0], [8.0])
        assert clip_grad_norm_((p for p in params), 5.0) == pytest.approx(10.0)
        np.testing.assert_allclose([p.grad[0] for p in params], [3.0, 4.0], rtol=1e-6)

    def test_float32_stays_float32(self):
        params = with_grads(np.full(10, 3.0), np.full((2, 5), -4.0))
        clip_grad_norm_(params, 1.0)
        assert all(p.grad.dtype == np.float32 for p in params)
