"""Gradient utilities, and building a module without initialising it."""
import math

from . import init


def skip_init(module_cls, *args, **kwargs):
    """module_cls(*args, **kwargs) with its random initialisation skipped, as PyTorch's
    torch.nn.utils.skip_init: the parameters hold whatever np.empty left in them (ones and
    zeros, such as a norm's, are still set). For a model whose every parameter is filled from
    a checkpoint next: it saves the draws' time and their float64 temporaries (twice the
    float32 size of each tensor)."""
    with init.skipped():
        return module_cls(*args, **kwargs)


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
