"""Inverted dropout: zero each element with probability p, scale the rest by 1/(1-p)."""
import numpy as np

from ..autograd import Function


def keep_mask(shape, p, generator):
    """A bool array, True (keep) with probability 1 - p, drawn from `generator`.

    Both the fused kernels and their composed twins draw through here, so with generators in
    the same state they drop the same elements.
    """
    generator = np.random.default_rng() if generator is None else generator
    return generator.random(shape, dtype=np.float32) >= p


class Dropout(Function):
    """y = x * keep / (1 - p). Scaling the kept elements keeps E[y] = x, so evaluation (no
    dropout) needs no rescaling. Backward: dL/dx = dL/dy * keep / (1 - p)."""

    @staticmethod
    def forward(ctx, x, p, generator):
        keep = keep_mask(x.shape, p, generator)
        ctx.save_for_backward(keep)
        ctx.scale = 1.0 / (1.0 - p)
        out = x * keep
        out *= ctx.scale
        return out

    @staticmethod
    def backward(ctx, grad):
        (keep,) = ctx.saved_tensors
        grad_x = grad * keep
        grad_x *= ctx.scale
        return grad_x, None, None
