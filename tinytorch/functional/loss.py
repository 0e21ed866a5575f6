"""Fused softmax + cross-entropy: one graph node from logits to loss."""
import numpy as np

from ..autograd import Function
from .rowwise import max_along


class CrossEntropy(Function):
    """loss_n = -log softmax(logits_n)[target_n] for logits (N, C) and targets (N,).

    Rows whose target is ignore_index contribute nothing; "mean" divides by the rows that
    count (and gives 0, with zero gradients, when none does: PyTorch gives nan).
    With p = softmax(logits_n):  d loss_n / d logits_n = p - onehot(target_n), so backward
    needs only p, which forward has computed anyway. It scales each row by the incoming
    gradient: grad (N,) for reduction "none", a scalar for "sum", the scalar / count for
    "mean"; an ignored row gets zeros. It returns (grad_logits, None, None, None) and writes
    into neither `grad` nor the saved arrays (backward may run again with retain_graph).
    """

    @staticmethod
    def forward(ctx, logits, target, ignore_index, reduction):
        valid = target != ignore_index             # checked by checks.check_targets
        safe_target = np.where(valid, target, 0)
        target_log_probs, probs = log_softmax_at(logits, safe_target)
        row_losses = 0.0 - target_log_probs       # not -x: a certain target's loss is +0, not -0
        row_losses *= valid

        ctx.save_for_backward(probs, valid, safe_target)
        ctx.reduction = reduction
        ctx.count = max(int(valid.sum()), 1)
        if reduction == "none":
            return row_losses
        total = np.sum(row_losses)
        return np.asarray(total / ctx.count if reduction == "mean" else total)

    @staticmethod
    def backward(ctx, grad):                    # grad: (N,) for "none", else a scalar
        # BEGIN EXERCISE cross_entropy_backward: (p - onehot(target)) * grad per row; 0 if ignored
        probs, valid, target = ctx.saved_tensors
        grad_logits = probs.copy()
        grad_logits[np.arange(len(target)), target] -= 1.0
        if ctx.reduction == "none":
            row_scale = grad * valid
        else:
            scale = float(grad) / ctx.count if ctx.reduction == "mean" else float(grad)
            row_scale = valid * np.asarray(scale, probs.dtype)
        grad_logits *= row_scale[:, None]
        return grad_logits, None, None, None
        # END EXERCISE cross_entropy_backward


def log_softmax_at(logits, target):
    """(log softmax(logits_n)[target_n] (N,), softmax(logits) (N, C)) for logits (N, C) and
    class ids target (N,): what a loss on the target's log-probability needs forward (the
    first) and backward (the second, as p - onehot(target) is its gradient)."""
    shifted = logits - max_along(logits, 1)           # e^x cannot overflow
    picked = shifted[np.arange(len(target)), target]
    probs = np.exp(shifted, out=shifted)
    sums = np.sum(probs, axis=1, keepdims=True)
    probs /= sums
    # log p[target] = shifted[target] - log sum_j e^shifted_j
    return picked - np.log(sums[:, 0]), probs
