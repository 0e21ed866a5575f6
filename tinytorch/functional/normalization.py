"""Fused layer normalisation: one graph node with a hand-derived backward."""
import numpy as np

from ..autograd import Function


class LayerNorm(Function):
    """y = xhat * weight + bias,  xhat = (x - mean) / sqrt(var + eps), over the last `n_dims`
    axes (var is the biased variance, divided by D, the number of normalised elements).

    Backward for one row, with g = dL/dy and gh = g * weight (dL/dxhat), rstd = 1/sqrt(var+eps):
        dL/dx = rstd * (gh - mean(gh) - xhat * mean(gh * xhat))
    (xhat depends on x directly, through the mean, and through the variance; the last two
    terms are those paths). dL/dweight = sum over rows of g * xhat, dL/dbias = sum of g.
    weight and bias may be None.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, n_dims, eps):
        rows = x.reshape(-1, int(np.prod(x.shape[-n_dims:])))
        centered = rows - np.mean(rows, axis=1, keepdims=True)
        variance = np.mean(centered * centered, axis=1, keepdims=True)
        rstd = 1.0 / np.sqrt(variance + eps)
        xhat = centered
        xhat *= rstd
        ctx.save_for_backward(xhat, rstd, weight)
        ctx.shape, ctx.param_shape = x.shape, x.shape[-n_dims:]
        out = xhat * weight.reshape(-1) if weight is not None else xhat.copy()
        if bias is not None:
            out += bias.reshape(-1)
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        # BEGIN EXERCISE layer_norm_backward
        xhat, rstd, weight = ctx.saved_tensors
        need_x, need_weight, need_bias = ctx.needs_input_grad[:3]
        grad_rows = grad.reshape(xhat.shape)
        grad_weight = grad_bias = grad_x = None
        if need_weight:
            grad_weight = np.sum(grad_rows * xhat, axis=0).reshape(ctx.param_shape)
        if need_bias:
            grad_bias = np.sum(grad_rows, axis=0).reshape(ctx.param_shape)
        if need_x:
            grad_xhat = grad_rows * weight.reshape(-1) if weight is not None else grad_rows.copy()
            mean_grad = np.mean(grad_xhat, axis=1, keepdims=True)
            mean_grad_xhat = np.mean(grad_xhat * xhat, axis=1, keepdims=True)
            grad_x = grad_xhat
            grad_x -= mean_grad
            grad_x -= xhat * mean_grad_xhat
            grad_x *= rstd
            grad_x = grad_x.reshape(ctx.shape)
        return grad_x, grad_weight, grad_bias, None, None
        # END EXERCISE layer_norm_backward
