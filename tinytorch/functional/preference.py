"""Fused kernels of preference tuning (DPO): the log-probability of a whole response, and the
DPO loss. One graph node each, with a hand-derived backward.

    logits (B, T, V), targets (B, T)  --SequenceLogProb-->  log pi(y|x) (B,)
    four of those, beta               --DPOLoss-->          -log sigmoid(beta * margin)

PyTorch has neither (`trl` and the books write them out of torch ops); the names here are ours.
"""
import numpy as np

from ..autograd import Function
from .loss import log_softmax_at


class SequenceLogProb(Function):
    """out_b = sum over t of log softmax(logits[b, t])[target[b, t]] for logits (B, T, V) and
    targets (B, T): the log-probability the model gives row b's target tokens, positions whose
    target is ignore_index left out (0 for a row with none).

    With p = softmax(logits[b, t]) each counted position adds log p[target] to out_b, and
        d out_b / d logits[b, t] = onehot(target[b, t]) - p          (0 where ignored)
    so backward needs only p, as cross-entropy's does (the same `log_softmax_at`), scaled by
    the incoming gradient of its row: grad (B,). It returns (grad_logits, None, None).
    """

    @staticmethod
    def forward(ctx, logits, target, ignore_index):
        B, T, V = logits.shape
        flat_target = target.reshape(-1)
        valid = flat_target != ignore_index       # checked by checks.check_sequence_log_prob
        safe_target = np.where(valid, flat_target, 0)
        target_log_probs, probs = log_softmax_at(logits.reshape(-1, V), safe_target)
        # where, not a product: an ignored position adds exactly +0, whatever its target
        out = np.where(valid, target_log_probs, 0.0).reshape(B, T).sum(axis=1)
        ctx.save_for_backward(probs, valid, safe_target)
        ctx.shape = logits.shape
        return out

    @staticmethod
    def backward(ctx, grad):                    # grad: (B,), one per sequence
        probs, valid, target = ctx.saved_tensors
        B, T, V = ctx.shape
        position_scale = np.repeat(grad.astype(probs.dtype), T) * valid      # (B * T,)
        grad_logits = probs * -position_scale[:, None]                        # -p, scaled
        grad_logits[np.arange(len(target)), target] += position_scale         # + onehot
        return grad_logits.reshape(B, T, V), None, None


class DPOLoss(Function):
    """Direct Preference Optimization's loss (Rafailov et al., 2023) for B preference pairs:

        margin_b = beta * ((pc_b - rc_b) - (pr_b - rr_b))
        loss_b   = -log sigmoid(margin_b)             mean over b ("mean"), "sum" or "none"

    pc, pr: the policy's log-probabilities of the chosen and rejected responses (B,); rc, rr:
    the frozen reference model's. beta * (pc - rc) is the chosen response's implicit reward,
    beta * (pr - rr) the rejected one's, the margin their difference: the loss is a logistic
    loss that pushes each margin up (Bradley-Terry: sigmoid(margin) is the probability that
    the chosen response is preferred).

    Backward, with d(-log sigmoid(m))/dm = -sigmoid(-m) (the slope, which forward computes
    while it has the margin at hand, `dpo_loss_and_slope`) and g the incoming gradient per
    pair (g / B each for "mean", g for "sum", g_b for "none"):
        dL/dpc = beta * slope * g = -dL/dpr = -dL/drc = dL/drr
    It returns the four gradients and (None, None) for beta and the reduction.
    """

    @staticmethod
    def forward(ctx, policy_chosen, policy_rejected, reference_chosen, reference_rejected,
                beta, reduction):
        margins = beta * ((policy_chosen - reference_chosen)
                          - (policy_rejected - reference_rejected))           # (B,)
        losses, slopes = dpo_loss_and_slope(margins)
        ctx.save_for_backward(slopes)
        ctx.beta, ctx.reduction = beta, reduction
        if reduction == "none":
            return losses
        total = np.sum(losses)
        return np.asarray(total / max(len(losses), 1) if reduction == "mean" else total)

    @staticmethod
    def backward(ctx, grad):                    # grad: (B,) for "none", else a scalar
        (slopes,) = ctx.saved_tensors
        if ctx.reduction == "none":
            pair_grad = grad * slopes
        else:
            scale = float(grad) / max(len(slopes), 1) if ctx.reduction == "mean" else float(grad)
            pair_grad = slopes * scale          # a Python float: float32 stays float32
        grad_chosen = pair_grad * ctx.beta      # d margin / d pc = beta
        return grad_chosen, -grad_chosen, -grad_chosen, grad_chosen, None, None


def dpo_loss_and_slope(margins):
    """(loss, slope) for reward margins (B,): loss = -log sigmoid(margin) = log(1 + e^-margin)
    and its derivative slope = d loss / d margin = -sigmoid(-margin) = -1 / (1 + e^margin),
    both (B,) in margins' dtype.

    Computed without overflow for margins of any size (in float32, e^89 is already inf): a
    margin of -1e4 gives loss 1e4 and slope -1, a margin of 1e4 gives loss 0 and slope -0, with
    no warning. A margin of 0 (the policy is the reference) gives exactly log 2 and -1/2.
    margins is left as it is.
    """
    # BEGIN EXERCISE dpo_loss: loss = -log sigmoid(m) = log(1 + e^-m), slope = -sigmoid(-m); no overflow
    losses = np.logaddexp(0.0, -margins)               # log(e^0 + e^-m), computed stably
    slopes = -np.exp(-np.logaddexp(0.0, margins))      # -1 / (1 + e^m) = -e^-log(1 + e^m)
    return losses, slopes
    # END EXERCISE dpo_loss
