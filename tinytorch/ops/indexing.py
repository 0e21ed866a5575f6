"""Selecting, masking and joining: indexing, masked_fill, where, cat, stack, split.

Backward routes each output gradient back to the input element it came from. Where one input
element was picked several times (an integer index array with repeats), the gradients of all
the picks must add up, which plain `grad_x[index] = grad` would not do: `np.add.at` does.
"""
import numpy as np

from ..autograd import Function


def _is_basic(index):
    """True for indices made only of ints, slices, None and Ellipsis (NumPy's basic indexing:
    every input element is picked at most once)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, slice)) or p is None or p is Ellipsis for p in parts)


class GetItem(Function):
    """x[index] with NumPy's indexing rules: slices, ints, integer arrays, boolean masks."""

    @staticmethod
    def forward(ctx, x, index):
        if isinstance(index, np.ndarray) and index.dtype == bool:
            index = np.nonzero(index)
        ctx.index, ctx.shape, ctx.basic = index, x.shape, _is_basic(index)
        return x[index]

    @staticmethod
    def backward(ctx, grad):
        grad_x = np.zeros(ctx.shape, grad.dtype)
        if ctx.basic:
            grad_x[ctx.index] = grad
        else:
            np.add.at(grad_x, ctx.index, grad)     # repeated indices accumulate
        return grad_x, None


class MaskedFill(Function):
    """x with `value` wherever `mask` (a bool array broadcastable to x) is True.

    The filled positions no longer depend on x, so their gradient is zero.
    """

    @staticmethod
    def forward(ctx, x, mask, value):
        ctx.save_for_backward(mask)
        return np.where(mask, value, x).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        return np.where(mask, 0, grad), None, None


class Where(Function):
    """Elementwise `a if condition else b`, broadcasting all three."""

    @staticmethod
    def forward(ctx, condition, a, b):
        ctx.save_for_backward(condition)
        return np.where(condition, a, b)

    @staticmethod
    def backward(ctx, grad):
        (condition,) = ctx.saved_tensors
        grad_a = np.where(condition, grad, 0) if ctx.needs_input_grad[1] else None
        grad_b = np.where(condition, 0, grad) if ctx.needs_input_grad[2] else None
        return None, grad_a, grad_b


class Cat(Function):
    """The inputs joined along an existing axis: cat(dim, *arrays)."""

    @staticmethod
    def forward(ctx, dim, *arrays):
        ctx.dim = dim
        ctx.boundaries = np.cumsum([a.shape[dim] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        return (None, *np.split(grad, ctx.boundaries, axis=ctx.dim))


class Stack(Function):
    """The inputs (all one shape) joined along a new axis: stack(dim, *arrays)."""

    @staticmethod
    def forward(ctx, dim, *arrays):
        ctx.dim = dim
        return np.stack(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        return (None, *np.moveaxis(grad, ctx.dim, 0))


class Split(Function):
    """x cut along `dim` into pieces of the given sizes (views, no copy); one output per piece.

    Backward joins the pieces' gradients again: one array, not one full-size array per piece.
    """

    @staticmethod
    def forward(ctx, x, sizes, dim):
        if sum(sizes) != x.shape[dim]:
            raise ValueError(f"split sizes {list(sizes)} do not add up to {x.shape[dim]}, "
                             f"the size of dim {dim}")
        ctx.dim = dim
        return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=dim))

    @staticmethod
    def backward(ctx, *grads):
        return np.concatenate(grads, axis=ctx.dim), None, None
