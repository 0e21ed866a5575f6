"""Gradient utilities."""
import math


def clip_grad_norm_(parameters, max_norm):
    """Scale all gradients together so that their joint L2 norm is at most `max_norm`.

    Returns the norm before clipping (a Python float), as PyTorch does. Parameters without a
    gradient are skipped. The scale is max_norm / (norm + 1e-6), PyTorch's formula.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    total = math.sqrt(sum(float(g.ravel() @ g.ravel()) for g in grads))
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for g in grads:
            g *= scale          # each leaf owns its .grad (the engine guarantees it)
    return total
