"""Fused layer normalisation and RMS normalisation: one graph node each, with a hand-derived
backward."""
import math

import numpy as np

from ..autograd import Function
from .rowwise import column_sums, row_blocks, row_dots, row_means


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
        return normalize_forward(ctx, normalize_rows, x, weight, bias, n_dims, eps)

    @staticmethod
    def backward(ctx, grad):
        xhat, rstd, weight = ctx.saved_tensors
        need_x, need_weight, need_bias = ctx.needs_input_grad[:3]
        grad_rows = grad.reshape(xhat.shape)                          # (N, D)
        grad_weight = grad_bias = grad_x = None
        if need_weight:
            grad_weight = column_sums(grad_rows * xhat).reshape(ctx.param_shape)
        if need_bias:
            grad_bias = column_sums(grad_rows).reshape(ctx.param_shape)
        if need_x:
            w = weight.reshape(-1) if weight is not None else None
            grad_x = np.empty_like(grad_rows)
            for block in row_blocks(grad_rows):
                grad_x[block] = normalize_backward(grad_rows[block], xhat[block], rstd[block], w)
            grad_x = grad_x.reshape(ctx.shape)
        return grad_x, grad_weight, grad_bias, None, None


def normalize_forward(ctx, normalize, x, weight, bias, n_dims, eps):
    """Both norms' forward: xhat = normalize(rows, eps) (normalize_rows or rms_normalize_rows)
    over the last `n_dims` axes of x, cache-sized blocks of rows at a time, then
    xhat * weight + bias; keeps xhat, 1/std per row and weight on ctx for backward."""
    rows = x.reshape(-1, math.prod(x.shape[-n_dims:]))               # (N, D)
    xhat, out = np.empty_like(rows), np.empty_like(rows)
    rstd = np.empty(len(rows), rows.dtype)
    w = weight.reshape(-1) if weight is not None else None
    b = bias.reshape(-1) if bias is not None else None
    for block in row_blocks(rows):
        xhat[block], rstd[block] = normalize(rows[block], eps)
        scale_and_shift(xhat[block], w, b, out=out[block])
    ctx.save_for_backward(xhat, rstd, weight)
    ctx.shape, ctx.param_shape = x.shape, x.shape[-n_dims:]
    return out.reshape(x.shape)


def normalize_rows(rows, eps):
    """xhat = (x - mean) / sqrt(var + eps) for each row of `rows` (N, D), and 1/sqrt(var + eps)."""
    centered = rows - row_means(rows)[:, None]
    rstd = 1.0 / np.sqrt(row_dots(centered, centered) * (1.0 / rows.shape[1]) + eps)
    centered *= rstd[:, None]
    return centered, rstd


def scale_and_shift(xhat, weight, bias, out):
    """out = xhat * weight + bias (either may be None), written into `out`."""
    if weight is not None:
        np.multiply(xhat, weight, out=out)
    else:
        out[...] = xhat
    if bias is not None:
        out += bias


def normalize_backward(grad, xhat, rstd, weight):
    """dL/dx (N, D) for rows (N, D), given grad = dL/dy (N, D), xhat (N, D), rstd (N,) and
    weight (D,) or None (no weight: as if all ones). Returns a new array and writes into none
    of its arguments (grad is a view of the gradient the caller received)."""
    # BEGIN EXERCISE layer_norm_backward: rstd * (gh - mean(gh) - xhat * mean(gh * xhat))
    grad_xhat = grad * weight if weight is not None else grad.copy()
    mean_grad = row_means(grad_xhat)                                  # (N,)
    mean_grad_xhat = row_dots(grad_xhat, xhat) * (1.0 / xhat.shape[1])
    grad_x = grad_xhat
    grad_x -= mean_grad[:, None]
    grad_x -= xhat * mean_grad_xhat[:, None]
    grad_x *= rstd[:, None]
    return grad_x
    # END EXERCISE layer_norm_backward


class RMSNorm(Function):
    """y = xhat * weight,  xhat = x / sqrt(mean(x^2) + eps), over the last `n_dims` axes
    (root-mean-square normalisation, as in Llama: no centring and no bias).

    Backward for one row of D elements, with g = dL/dy, gh = g * weight (dL/dxhat) and
    rstd = 1/sqrt(mean(x^2) + eps): xhat_i = x_i rstd and d rstd/dx_j = -rstd^3 x_j / D, so
        dL/dx_j = sum_i gh_i (rstd [i == j] - x_i rstd^3 x_j / D)
                = rstd * (gh_j - xhat_j * mean(gh * xhat))
    (layer norm's formula without the mean(gh) term: nothing is subtracted in forward).
    dL/dweight = sum over rows of g * xhat. weight may be None.
    """

    @staticmethod
    def forward(ctx, x, weight, n_dims, eps):
        return normalize_forward(ctx, rms_normalize_rows, x, weight, None, n_dims, eps)

    @staticmethod
    def backward(ctx, grad):
        xhat, rstd, weight = ctx.saved_tensors
        need_x, need_weight = ctx.needs_input_grad[:2]
        grad_rows = grad.reshape(xhat.shape)                          # (N, D)
        grad_x = grad_weight = None
        if need_weight:
            grad_weight = column_sums(grad_rows * xhat).reshape(ctx.param_shape)
        if need_x:
            w = weight.reshape(-1) if weight is not None else None
            grad_x = np.empty_like(grad_rows)
            for block in row_blocks(grad_rows):
                grad_x[block] = rms_normalize_backward(grad_rows[block], xhat[block],
                                                       rstd[block], w)
            grad_x = grad_x.reshape(ctx.shape)
        return grad_x, grad_weight, None, None


def rms_normalize_rows(rows, eps):
    """xhat = x / sqrt(mean(x^2) + eps) for each row of `rows` (N, D), and the factor
    rstd = 1/sqrt(mean(x^2) + eps) (N,)."""
    rstd = 1.0 / np.sqrt(row_dots(rows, rows) * (1.0 / rows.shape[1]) + eps)
    return rows * rstd[:, None], rstd


def rms_normalize_backward(grad, xhat, rstd, weight):
    """dL/dx for rows (N, D), given g = dL/dy, xhat, rstd and weight (None for no weight)."""
    # BEGIN EXERCISE rms_norm_backward: per row rstd * (gh - xhat * mean(gh * xhat)), gh = g * weight (g if None); grad unchanged
    grad_xhat = grad * weight if weight is not None else grad.copy()
    mean_grad_xhat = row_dots(grad_xhat, xhat) * (1.0 / xhat.shape[1])   # (N,)
    grad_x = grad_xhat
    grad_x -= xhat * mean_grad_xhat[:, None]
    grad_x *= rstd[:, None]
    return grad_x
    # END EXERCISE rms_norm_backward
