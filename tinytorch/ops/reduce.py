"""Reductions over `dim` (None for all elements, an int, or a tuple of ints), with `keepdim`.

Each output element summarises a slice of the input, so backward spreads the output's
gradient back over that slice: evenly for sum and mean, by the deviation for var, and to the
single winning element for max. `_restore` puts the reduced axes back (as size 1) so the
gradient broadcasts against the input.
"""
import math

import numpy as np

from ..autograd import Function


def normalize_dims(dim, ndim):
    """`dim` as a sorted tuple of non-negative axes (None means every axis)."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, int) and -ndim <= dim < ndim:                # the common case, fast
        return (dim % ndim,)
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    for d in dims:
        if not -ndim <= d < max(ndim, 1):
            raise IndexError(f"dim {d} is out of range for a tensor with {ndim} dimensions")
    return tuple(sorted(d % ndim if ndim else 0 for d in dims))


def _restore(grad, dims, keepdim):
    """The gradient of a reduced output with the reduced axes back as size 1 (a reshape:
    np.expand_dims does the same in ten times the time, 1.3 us)."""
    if keepdim:
        return grad
    shape = list(grad.shape)
    for axis in dims:                   # ascending, so each lands where it was
        shape.insert(axis, 1)
    return grad.reshape(shape)


class Sum(Function):
    """x summed over `dim`."""

    @staticmethod
    def forward(ctx, x, dim, keepdim):
        ctx.dims, ctx.keepdim, ctx.shape = normalize_dims(dim, x.ndim), keepdim, x.shape
        return x.sum(axis=ctx.dims, keepdims=keepdim)      # the method: np.sum adds ~2 us

    @staticmethod
    def backward(ctx, grad):
        return np.broadcast_to(_restore(grad, ctx.dims, ctx.keepdim), ctx.shape), None, None


class Mean(Function):
    """x averaged over `dim`."""

    @staticmethod
    def forward(ctx, x, dim, keepdim):
        ctx.dims, ctx.keepdim, ctx.shape = normalize_dims(dim, x.ndim), keepdim, x.shape
        ctx.count = math.prod(x.shape[d] for d in ctx.dims)    # not np.prod: 5 us on a list
        # sum / count, not x.mean: the same float32 sum, without np.mean's ~3 us of Python
        return x.sum(axis=ctx.dims, keepdims=keepdim) * (1.0 / ctx.count)

    @staticmethod
    def backward(ctx, grad):
        spread = _restore(grad, ctx.dims, ctx.keepdim) * (1.0 / ctx.count)
        return np.broadcast_to(spread, ctx.shape), None, None


class Var(Function):
    """Variance over `dim`: sum((x - mean)^2) / (n - correction).

    correction=1 (the default, as in PyTorch) is the unbiased estimate; layer norm uses 0.
    d/dx_i = 2 (x_i - mean) / (n - correction): the mean's own dependence on x_i cancels,
    because the deviations sum to zero.
    """

    @staticmethod
    def forward(ctx, x, dim, correction, keepdim):
        dims = normalize_dims(dim, x.ndim)
        count = math.prod(x.shape[d] for d in dims)
        deviation = x - np.mean(x, axis=dims, keepdims=True)
        denominator = max(count - correction, 0)    # 0 gives nan/inf, as in PyTorch
        ctx.dims, ctx.keepdim = dims, keepdim
        ctx.scale = 2.0 / denominator if denominator else float("nan")
        ctx.save_for_backward(deviation)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.sum(deviation * deviation, axis=dims, keepdims=keepdim) / denominator

    @staticmethod
    def backward(ctx, grad):
        (deviation,) = ctx.saved_tensors
        return _restore(grad, ctx.dims, ctx.keepdim) * ctx.scale * deviation, None, None, None


class Max(Function):
    """The largest element over `dim` (one int or None).

    The whole gradient goes to one arg-max element (the first, as np.argmax picks), so ties
    do not split it. Unlike PyTorch, `max(dim)` returns the values only; use `argmax` for the
    indices.
    """

    @staticmethod
    def forward(ctx, x, dim, keepdim):
        ctx.shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        if dim is None:
            ctx.flat_index = np.argmax(x)
            out = x.reshape(-1)[ctx.flat_index]
            return np.reshape(out, (1,) * x.ndim) if keepdim else np.asarray(out)
        (axis,) = normalize_dims(dim, x.ndim)
        ctx.axis = axis
        ctx.index = np.expand_dims(np.argmax(x, axis=axis), axis)
        out = np.take_along_axis(x, ctx.index, axis=axis)
        return out if keepdim else np.squeeze(out, axis)

    @staticmethod
    def backward(ctx, grad):
        grad_x = np.zeros(ctx.shape, grad.dtype)
        if ctx.dim is None:
            grad_x.reshape(-1)[ctx.flat_index] = grad.reshape(())
        else:
            grad = grad if ctx.keepdim else np.expand_dims(grad, ctx.axis)
            np.put_along_axis(grad_x, ctx.index, grad, axis=ctx.axis)
        return grad_x, None, None
