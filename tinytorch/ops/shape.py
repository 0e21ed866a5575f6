"""Ops that move elements around without changing them: reshape, transpose, permute, expand.

Backward moves the gradient back the same way: reshape it back, swap the same axes, apply
the inverse permutation. `expand` repeats elements, so its gradient is a sum, which the
engine's un-broadcasting already does.
"""
import numpy as np

from ..autograd import Function


class Reshape(Function):
    """x with a new shape holding the same elements in the same (row-major) order."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"cannot reshape {x.shape} ({x.size} elements) "
                             f"into {tuple(shape)}") from None

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape), None


class Transpose(Function):
    """x with axes dim0 and dim1 swapped (a view)."""

    @staticmethod
    def forward(ctx, x, dim0, dim1):
        ctx.dims = (dim0, dim1)
        return x.swapaxes(dim0, dim1)

    @staticmethod
    def backward(ctx, grad):
        return grad.swapaxes(*ctx.dims), None, None


class Permute(Function):
    """x with its axes reordered: output axis i is input axis dims[i]."""

    @staticmethod
    def forward(ctx, x, dims):
        if sorted(d % x.ndim for d in dims) != list(range(x.ndim)):
            raise ValueError(f"permute needs each of the {x.ndim} axes once, got {tuple(dims)}")
        ctx.inverse = tuple(np.argsort([d % x.ndim for d in dims]))
        return x.transpose(dims)

    @staticmethod
    def backward(ctx, grad):
        return grad.transpose(ctx.inverse), None


class Expand(Function):
    """x repeated along size-1 (or new leading) axes to `shape`, without copying.

    -1 keeps an axis's size, as in PyTorch. The gradient is summed over the repeats by the
    engine, which un-broadcasts every gradient to its input's shape.
    """

    @staticmethod
    def forward(ctx, x, shape):
        lead = len(shape) - x.ndim
        shape = tuple(x.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, grad):
        return grad, None
