"""Fused rotary position embedding (RoPE), in Hugging Face's "rotate half" layout.

Each head's D dimensions form D/2 pairs, dimension i with dimension i + D/2, and RoPE turns
pair i at position t by the angle t * theta_i. With cos and sin tables (T, D) that hold
cos(t theta_i) and sin(t theta_i) in both halves (see gpt/positions.py):

    rope(x) = x * cos + rotate_half(x) * sin,     rotate_half([x1, x2]) = [-x2, x1]

which for one pair (a, b) = (x_i, x_{i+D/2}) is the 2-D rotation
(a cos - b sin, b cos + a sin). Queries and keys are both turned, so their dot product
depends only on the distance between their positions. (Meta's original code pairs
neighbouring dimensions 2i and 2i + 1 instead; Hugging Face permutes the weights so that
this layout computes the same thing.)
"""
import numpy as np

from ..autograd import Function


def apply_rotation(x, cos, sin):
    """x * cos + rotate_half(x) * sin on arrays: x (..., D) and cos, sin broadcasting to it.

    Per half, with h = D/2 (the tables' two halves may differ):
        out[..., :h] = x[..., :h] cos[..., :h] - x[..., h:] sin[..., :h]
        out[..., h:] = x[..., h:] cos[..., h:] + x[..., :h] sin[..., h:]
    Built as two whole-array products (fast) rather than four products of half rows
    (NumPy's loops over 16-element halves run at half the speed).
    """
    # BEGIN EXERCISE apply_rotation: new array x * cos + rotate_half(x) * sin, rotate_half([x1, x2]) = [-x2, x1]; halves of cos, sin may differ
    out = x * cos
    out += rotate_half(x) * sin                                 # rotate_half(x) = [-x2, x1]
    return out
    # END EXERCISE apply_rotation


def rotate_half(x):
    """[-x2, x1] for an array x = [x1, x2] split in halves along the last axis: each pair of
    dimensions (i, i + D/2) turned a quarter, (a, b) -> (-b, a). A new array."""
    half = x.shape[-1] // 2
    out = np.empty_like(x)
    np.negative(x[..., half:], out=out[..., :half])
    out[..., half:] = x[..., :half]
    return out


class RotaryEmbedding(Function):
    """y = x * cos + rotate_half(x) * sin for x (..., T, D) and cos, sin broadcasting to x.

    rotate_half is a linear map R with R^T = -R (a quarter turn of every pair), so with
    g = dL/dy:
        dL/dx   = g * cos + R^T (g * sin) = g * cos - rotate_half(g * sin)
        dL/dcos = g * x,   dL/dsin = g * rotate_half(x)   (summed back to the tables' shape
                                                           by the engine; usually the tables
                                                           are constants)
    Forward keeps cos and sin, and x only when the tables need a gradient.
    """

    @staticmethod
    def forward(ctx, x, cos, sin):
        needs_tables = ctx.needs_input_grad[1] or ctx.needs_input_grad[2]
        ctx.save_for_backward(x if needs_tables else None, cos, sin)
        return apply_rotation(x, cos, sin)

    @staticmethod
    def backward(ctx, grad):
        x, cos, sin = ctx.saved_tensors
        need_x, need_cos, need_sin = ctx.needs_input_grad
        grad_x = None
        if need_x:
            grad_x = grad * cos
            grad_x -= rotate_half(grad * sin)
        grad_cos = grad * x if need_cos else None
        grad_sin = grad * rotate_half(x) if need_sin else None
        return grad_x, grad_cos, grad_sin
