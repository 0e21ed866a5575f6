"""The kernels of preference tuning, by hand: `sequence_log_prob` and `dpo_loss` (fused and
composed; the gradient checks, the twins' agreement and the one-node graphs are in
test_functional.py with every other kernel).

The issue's hand checks: when the policy equals the reference the loss is exactly log 2 and the
margin 0, and there swapping chosen and rejected negates the gradient; changing a label at a
masked position, or the logits of a padding position, changes no gradient bit.
"""
import math

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.functional as F
from tinytorch.functional import composed

TWINS = pytest.mark.parametrize("module", [F, composed], ids=["fused", "composed"])


def normal(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape)


def leaves(*arrays, dtype=np.float64):
    return [tt.tensor(np.asarray(a), dtype=dtype, requires_grad=True) for a in arrays]


# ----- sequence_log_prob ------------------------------------------------------------------------

@TWINS
def test_sequence_log_prob_by_hand(module):
    # row 0: p(1) = 3/4 at t = 0 (logits 0, log 3), p(0) = 1/2 at t = 1; row 1: t = 0 ignored
    logits = tt.tensor([[[0.0, math.log(3.0)], [5.0, 5.0]],
                        [[9.0, -9.0], [0.0, math.log(3.0)]]], dtype=np.float64)
    out = module.sequence_log_prob(logits, [[1, 0], [-100, 0]])
    np.testing.assert_allclose(out.data, [math.log(0.75) + math.log(0.5), math.log(0.25)],
                               rtol=1e-14)


@TWINS
def test_sequence_log_prob_is_minus_the_summed_cross_entropy(module):
    logits, = leaves(normal(0, 3, 5, 7))
    target = np.random.default_rng(1).integers(0, 7, (3, 5))
    target[0, :2] = target[2, 3:] = -100
    per_token = module.cross_entropy(logits.reshape(-1, 7), target.reshape(-1), reduction="none")
    np.testing.assert_allclose(module.sequence_log_prob(logits, target).data,
                               -per_token.data.reshape(3, 5).sum(axis=1), rtol=1e-13)


@TWINS
def test_a_row_with_every_target_ignored_is_zero_with_zero_gradients(module):
    logits, = leaves(normal(2, 2, 3, 4))
    out = module.sequence_log_prob(logits, [[-100, -100, -100], [1, 2, -100]])
    assert out.data[0] == 0.0
    out.backward(np.array([1.5, -0.5]))
    assert np.all(logits.grad[0] == 0) and np.all(logits.grad[1, :2] != 0)
    assert np.all(logits.grad[1, 2] == 0)


@TWINS
def test_masked_positions_add_nothing_bit_for_bit(module):
    """Each row computed over its counted positions alone (the masked ones cut out) gives the
    same gradient bits at those positions: a masked position's label and logits take no part."""
    target = np.array([[3, 1, -100, -100, 0], [-100, 0, 2, 4, -100]])
    values = normal(3, 2, 5, 6)
    logits, = leaves(values)
    out = module.sequence_log_prob(logits, target)
    out.backward(np.array([0.7, -1.3]))
    for row, grad_out in enumerate([0.7, -1.3]):
        kept = target[row] != -100
        alone, = leaves(values[row][kept][None])
        alone_out = module.sequence_log_prob(alone, target[row][kept][None])
        alone_out.backward(np.array([grad_out]))
        assert alone_out.item() == pytest.approx(out.data[row], rel=1e-15)
        np.testing.assert_array_equal(logits.grad[row][kept].view(np.uint64),
                                      alone.grad[0].view(np.uint64))
        assert np.all(logits.grad[row][~kept] == 0)


@TWINS
def test_the_logits_at_a_padding_position_change_no_gradient_bit(module):
    """Padding after a response: its targets are -100, so whatever the model predicts there
    (a padding token changes the logits at its own position only, attention being causal)
    changes neither the log-probabilities nor any other position's gradient."""
    target = np.array([[2, 0, 1, -100, -100], [4, 3, 3, 1, -100]])
    padding = target == -100

    def forward_backward(logits_values):
        logits, = leaves(logits_values)
        out = module.sequence_log_prob(logits, target)
        out.backward(np.array([0.25, -2.0]))
        return out.data, logits.grad

    values = normal(4, 2, 5, 6)
    changed = np.where(padding[..., None], 100.0 * normal(5, 2, 5, 6), values)
    out, grad = forward_backward(values)
    other_out, other_grad = forward_backward(changed)
    np.testing.assert_array_equal(other_out.view(np.uint64), out.view(np.uint64))
    np.testing.assert_array_equal(other_grad[~padding].view(np.uint64),
                                  grad[~padding].view(np.uint64))
    assert np.all(grad[padding] == 0) and np.all(other_grad[padding] == 0)


@TWINS
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sequence_log_prob_of_huge_logits_stays_finite(module, dtype):
    logits = tt.tensor([[[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]]], dtype=dtype,
                       requires_grad=True)
    out = module.sequence_log_prob(logits, [[1, 2]])
    np.testing.assert_allclose(out.data, [-2e4 - math.log(3.0)], rtol=1e-6)
    out.sum().backward()
    assert np.all(np.isfinite(logits.grad))


# ----- dpo_loss ------------------------------------------------------------------------------

@TWINS
def test_dpo_loss_by_hand(module):
    # margin = 0.5 * ((-3 - -4) - (-5 - -4)) = 0.5 * (1 + 1) = 1: loss log(1 + e^-1)
    pc, pr, rc, rr = leaves([-3.0], [-5.0], [-4.0], [-4.0])
    loss = module.dpo_loss(pc, pr, rc, rr, beta=0.5)
    assert loss.item() == pytest.approx(math.log1p(math.exp(-1.0)), rel=1e-15)
    loss.backward()
    slope = -1.0 / (1.0 + math.e)                      # -sigmoid(-1)
    np.testing.assert_allclose([pc.grad[0], pr.grad[0], rc.grad[0], rr.grad[0]],
                               [0.5 * slope, -0.5 * slope, -0.5 * slope, 0.5 * slope],
                               rtol=1e-14)


@TWINS
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_policy_equal_to_the_reference_gives_exactly_log_2_and_margin_0(module, dtype):
    chosen, rejected = normal(6, 4) - 20.0, normal(7, 4) - 30.0
    pc, pr = leaves(chosen, rejected, dtype=dtype)
    losses = module.dpo_loss(pc, pr, chosen.astype(dtype), rejected.astype(dtype),
                             reduction="none")
    assert losses.dtype == dtype
    np.testing.assert_array_equal(losses.data, np.full(4, np.log(dtype(2.0))))
    # the mean of four equal losses (divided by a power of two): log 2 exactly
    assert module.dpo_loss(pc, pr, chosen.astype(dtype), rejected.astype(dtype)).item() == \
        np.log(dtype(2.0))
    chosen_rewards, rejected_rewards = F.dpo_rewards(pc, pr, chosen.astype(dtype),
                                                     rejected.astype(dtype))
    assert np.all(chosen_rewards.data == 0) and np.all(rejected_rewards.data == 0)


@TWINS
def test_there_swapping_chosen_and_rejected_negates_the_gradient(module):
    chosen, rejected = normal(8, 5) - 10.0, normal(9, 5) - 12.0

    def gradients(first, second):
        """The gradients of the policy's two arguments for dpo_loss(first, second, ...),
        policy equal to the reference."""
        p_first, p_second = leaves(first, second)
        module.dpo_loss(p_first, p_second, first, second, beta=0.3).backward()
        return p_first.grad, p_second.grad

    grad_chosen, grad_rejected = gradients(chosen, rejected)
    swapped_rejected, swapped_chosen = gradients(rejected, chosen)   # (first, second) swapped
    np.testing.assert_array_equal(swapped_chosen, -grad_chosen)
    np.testing.assert_array_equal(swapped_rejected, -grad_rejected)
    # and it is -beta sigmoid(0) / B = -0.3 / 2 / 5 per pair for the chosen response
    np.testing.assert_allclose(grad_chosen, np.full(5, -0.03), rtol=1e-15)


@TWINS
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_the_reductions(module, reduction):
    logps = [normal(seed, 6) for seed in range(10, 14)]
    losses = module.dpo_loss(*leaves(*logps), beta=0.2, reduction="none").data
    margins = 0.2 * ((logps[0] - logps[2]) - (logps[1] - logps[3]))
    np.testing.assert_allclose(losses, np.log1p(np.exp(-margins)), rtol=1e-13)
    out = module.dpo_loss(*leaves(*logps), beta=0.2, reduction=reduction).data
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    np.testing.assert_allclose(out, expected, rtol=1e-13)


@TWINS
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_margins_stay_finite_and_give_the_limits(module, dtype):
    # margins 1e4, -1e4 and 0: losses 0, 1e4 and log 2, slopes 0, -1 and -1/2 (times beta / 3)
    pc = tt.tensor([0.0, -1e4, -1.0], dtype=dtype, requires_grad=True)
    zeros = np.zeros(3, dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):    # underflow is fine
        losses = module.dpo_loss(pc, tt.tensor([-1e4, 0.0, -1.0], dtype=dtype), zeros, zeros,
                                 beta=1.0, reduction="none")
        losses.sum().backward()
    np.testing.assert_allclose(losses.data, [0.0, 1e4, math.log(2.0)], rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(pc.grad, [0.0, -1.0, -0.5], rtol=1e-6, atol=1e-30)


def test_a_reference_given_as_arrays_is_a_constant_and_keeps_float32():
    pc, pr = leaves([-2.0, -3.0], [-2.5, -1.0], dtype=np.float32)
    reference = np.array([-2.2, -2.9], np.float32), np.array([-2.4, -1.5], np.float32)
    loss = F.dpo_loss(pc, pr, *reference)
    assert loss.dtype == np.float32
    loss.backward()
    assert pc.grad.dtype == np.float32


def test_dpo_rewards_are_beta_times_the_log_ratios_and_carry_no_graph():
    pc, pr = leaves([-3.0, -6.0], [-5.0, -4.0])
    rc, rr = np.array([-4.0, -5.0]), np.array([-4.0, -5.0])
    chosen_rewards, rejected_rewards = F.dpo_rewards(pc, pr, rc, rr, beta=0.5)
    np.testing.assert_allclose(chosen_rewards.data, [0.5, -0.5])
    np.testing.assert_allclose(rejected_rewards.data, [-0.5, 0.5])
    assert not chosen_rewards.requires_grad and not rejected_rewards.requires_grad
    margins = chosen_rewards.data - rejected_rewards.data           # [1, -1]: right, wrong
    loss = F.dpo_loss(pc, pr, rc, rr, beta=0.5, reduction="none")
    np.testing.assert_allclose(loss.data, np.log1p(np.exp(-margins)), rtol=1e-15)


@pytest.mark.parametrize("call, message", [
    (lambda: F.dpo_rewards([1.0], [1.0], [1.0, 2.0], [1.0], beta=0.1),
     r"dpo_rewards wants four log-probabilities of one shape \(B,\).*reference_chosen_logps "
     r"\(2,\)"),
    (lambda: F.dpo_rewards([1.0], [1.0], [1.0], [1.0], beta=-1.0), "beta must be"),
])
def test_dpo_rewards_checks_its_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()
