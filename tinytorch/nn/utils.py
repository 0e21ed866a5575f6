"""Gradient utilities."""
import math


def clip_grad_norm_(parameters, max_norm):
    """Scale all gradients together so that their joint L2 norm is at most `max_norm`.

    The joint norm is sqrt of the sum of every gradient element squared, over all parameters;
    when it is above max_norm, every gradient is multiplied by max_norm / (norm + 1e-6),
    PyTorch's formula (otherwise none changes). Returns the norm before clipping (a Python
    float), as PyTorch does. Parameters without a gradient (grad None) are skipped;
    `parameters` may be a generator (iterate it once). A float32 gradient stays float32.
    """
    # BEGIN EXERCISE clip_grad_norm: one norm over all gradients; above max_norm, scale all alike
    grads = [p.grad for p in parameters if p.grad is not None]
    total = math.sqrt(sum(float(g.ravel() @ g.ravel()) for g in grads))
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for g in grads:
            g *= scale          # each leaf owns its .grad (the engine guarantees it)
    return total
    # END EXERCISE clip_grad_norm
