"""Graded tests of the preference-tuning chapter (22_dpo.py): the DPO loss of a reward margin,
-log sigmoid(margin), and its derivative, computed without overflow; then DPOLoss, which uses
them, against central differences for its four inputs."""
import math

import numpy as np
import pytest

from exercise_checks import check_backward, read_only, run_forward
from tinytorch.functional.preference import DPOLoss, dpo_loss_and_slope

RAISE = dict(over="raise", invalid="raise", divide="raise")     # underflow to 0 is fine


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


class TestDpoLoss:
    def test_by_hand(self):
        margins = read_only(np.array([0.0, 1.0, -2.0, 0.5]))
        losses, slopes = dpo_loss_and_slope(margins)
        np.testing.assert_allclose(losses, [math.log(2.0), math.log1p(math.exp(-1.0)),
                                            math.log1p(math.exp(2.0)), -math.log(sigmoid(0.5))],
                                   rtol=1e-14)
        np.testing.assert_allclose(slopes, [-0.5, -sigmoid(-1.0), -sigmoid(2.0), -sigmoid(-0.5)],
                                   rtol=1e-14)

    def test_a_margin_of_0_gives_exactly_log_2_and_minus_one_half(self):
        for dtype in (np.float32, np.float64):
            losses, slopes = dpo_loss_and_slope(read_only(np.zeros(3, dtype)))
            np.testing.assert_array_equal(losses, np.full(3, np.log(dtype(2.0))))
            np.testing.assert_array_equal(slopes, np.full(3, dtype(-0.5)))

    def test_the_slope_is_the_derivative_of_the_loss(self):
        margins = np.random.default_rng(0).standard_normal(7) * 4.0
        _, slopes = dpo_loss_and_slope(read_only(margins.copy()))
        eps = 1e-6
        numeric = (dpo_loss_and_slope(margins + eps)[0]
                   - dpo_loss_and_slope(margins - eps)[0]) / (2 * eps)
        np.testing.assert_allclose(slopes, numeric, rtol=1e-6, atol=1e-9)

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_huge_margins_neither_overflow_nor_warn(self, dtype):
        margins = read_only(np.array([1e4, -1e4, 100.0, -100.0, 800.0, -800.0], dtype))
        with np.errstate(**RAISE):
            losses, slopes = dpo_loss_and_slope(margins)
        assert np.all(np.isfinite(losses)) and np.all(np.isfinite(slopes))
        np.testing.assert_allclose(losses, [0.0, 1e4, 0.0, 100.0, 0.0, 800.0],
                                   rtol=1e-6, atol=1e-30)
        np.testing.assert_allclose(slopes, [0.0, -1.0, 0.0, -1.0, 0.0, -1.0], atol=1e-30)

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_the_dtype_in_is_the_dtype_out(self, dtype):
        losses, slopes = dpo_loss_and_slope(read_only(np.array([0.3, -1.2], dtype)))
        assert losses.dtype == slopes.dtype == dtype
        assert losses.shape == slopes.shape == (2,)

    def test_the_margins_are_left_alone(self):
        margins = np.array([0.5, -0.25, 3.0])
        dpo_loss_and_slope(margins)
        np.testing.assert_array_equal(margins, [0.5, -0.25, 3.0])

    @pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
    def test_dpo_loss_backward_matches_central_differences(self, reduction):
        rng = np.random.default_rng(1)
        logps = [rng.standard_normal(5) * 3.0 - 20.0 for _ in range(4)]
        grad = rng.standard_normal(5) if reduction == "none" else np.asarray(0.8)
        check_backward(DPOLoss, [*logps, 0.4, reduction], grad)

    def test_dpo_loss_is_log_2_when_the_policy_is_the_reference(self):
        chosen, rejected = np.array([-12.0, -30.5]), np.array([-14.25, -29.0])
        _, loss = run_forward(DPOLoss, chosen, rejected, chosen, rejected, 0.1, "mean")
        assert loss == math.log(2.0)
