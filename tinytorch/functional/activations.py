"""Fused softmax, log-softmax, GELU and SiLU: one graph node each, with a hand-derived backward.

The composed twins in `composed.py` build the same functions from primitive ops; tests check
that both agree and that both pass gradcheck.
"""
import math

import numpy as np

from ..autograd import Function
from .rowwise import max_along, row_blocks


class Softmax(Function):
    """softmax(x)_i = e^(x_i - max x) / sum_j e^(x_j - max x) along `dim`.

    Subtracting the max changes nothing mathematically and keeps e^x from overflowing.
    Backward, with s the output and g the incoming gradient:
        dL/dx_i = sum_j g_j ds_j/dx_i = s_i (g_i - sum_j g_j s_j)
    Backward returns (dL/dx, None) (dim gets no gradient) and writes into neither g (other
    inputs may share that array) nor the saved s (backward may run again with retain_graph).
    """

    @staticmethod
    def forward(ctx, x, dim):
        shifted = x - max_along(x, dim)
        probs = np.exp(shifted, out=shifted)
        probs /= np.sum(probs, axis=dim, keepdims=True)
        ctx.dim = dim
        ctx.save_for_backward(probs)
        return probs

    @staticmethod
    def backward(ctx, grad):
        # BEGIN EXERCISE softmax_backward: dL/dx = s * (g - sum(g * s)) along dim
        (probs,) = ctx.saved_tensors
        grad_x = grad * probs
        grad_x -= probs * np.sum(grad_x, axis=ctx.dim, keepdims=True)
        return grad_x, None
        # END EXERCISE softmax_backward


class LogSoftmax(Function):
    """log softmax(x)_i = x_i - max x - log sum_j e^(x_j - max x) along `dim`.

    Backward: d/dx_i of sum_j g_j (x_j - logsumexp x) = g_i - softmax(x)_i sum_j g_j,
    with softmax(x) = exp(the saved output). It returns (dL/dx, None) and writes into neither
    g nor the saved output.
    """

    @staticmethod
    def forward(ctx, x, dim):
        shifted = x - max_along(x, dim)
        log_norm = np.log(np.sum(np.exp(shifted), axis=dim, keepdims=True))
        shifted -= log_norm
        ctx.dim = dim
        ctx.save_for_backward(shifted)
        return shifted

    @staticmethod
    def backward(ctx, grad):
        # BEGIN EXERCISE log_softmax_backward: dL/dx = g - exp(out) * sum(g) along dim
        (log_probs,) = ctx.saved_tensors
        return grad - np.exp(log_probs) * np.sum(grad, axis=ctx.dim, keepdims=True), None
        # END EXERCISE log_softmax_backward


GELU_C = math.sqrt(2.0 / math.pi)
GELU_A = 0.044715


def gelu_with_tanh(x, out=None):
    """GPT-2's GELU of an array (written into `out` if given), and t = tanh(u) for the
    derivative.

    y = 0.5 x (1 + t),  t = tanh(u),  u = c (x + a x^3) = c x (1 + a x^2),  c = sqrt(2/pi)
    """
    t = np.asarray(x * x)          # an array even for 0-d x (NumPy gives a scalar), for out=
    t *= GELU_C * GELU_A
    t += GELU_C
    t *= x
    np.tanh(t, out=t)
    out = np.add(t, 1.0, out=out)
    out *= x
    out *= 0.5
    return out, t


def gelu_derivative(x, t):
    """dy/dx of GELU at x, given t = tanh(u) from the forward pass (overwrites nothing).

    dy/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) du/dx,   du/dx = c (1 + 3 a x^2)
    """
    # BEGIN EXERCISE gelu_derivative: dy/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 a x^2)
    du_dx = x * x
    du_dx *= 3.0 * GELU_C * GELU_A
    du_dx += GELU_C
    slope = np.asarray(t * t)      # (1 - t^2) x du/dx, then + (1 + t), all halved
    np.subtract(1.0, slope, out=slope)
    slope *= x
    slope *= du_dx
    slope += t
    slope += 1.0
    slope *= 0.5
    return slope
    # END EXERCISE gelu_derivative


def activation_and_slope(x, activation, derivative, need_slope, bias=None):
    """activation(x + bias) and, if need_slope, its derivative (else None), over cache-sized
    blocks of rows (see rowwise.py): the same numbers as one call over all of x, about 3x
    faster. A `bias` (x.shape[-1],) is added to each block just before its activation, while
    the block is in cache; x is then overwritten with x + bias (the fused MLP passes its own
    scratch array).

    activation(x, out) writes y into `out` and returns (y, aux), where aux is what the
    derivative reuses from the forward computation (tanh(u) for GELU, the sigmoid for SiLU);
    derivative(x, aux) returns dy/dx.
    """
    rows = x.reshape(-1, x.shape[-1]) if x.ndim > 1 else x.reshape(-1, 1)
    out = np.empty_like(rows)
    slope = np.empty_like(rows) if need_slope else None
    for block in row_blocks(rows):
        pre = rows[block]
        if bias is not None:
            pre += bias
        _, aux = activation(pre, out=out[block])
        if need_slope:
            slope[block] = derivative(pre, aux)
    return out.reshape(x.shape), (slope.reshape(x.shape) if need_slope else None)


def gelu_and_slope(x, need_slope, bias=None):
    """GELU of x (+ bias, added into x) and, if need_slope, its derivative (else None)."""
    return activation_and_slope(x, gelu_with_tanh, gelu_derivative, need_slope, bias)


class GELU(Function):
    """GPT-2's tanh GELU (see `gelu_with_tanh`).

    The derivative needs t = tanh(u), which only forward has; rather than keep x and t for
    backward, forward computes the derivative itself (when a gradient will be needed) and
    keeps only that: half the memory, and backward is one multiplication.
    """

    @staticmethod
    def forward(ctx, x):
        out, slope = gelu_and_slope(x, ctx.needs_input_grad[0])
        ctx.save_for_backward(slope)
        return out

    @staticmethod
    def backward(ctx, grad):
        (slope,) = ctx.saved_tensors
        return grad * slope


def silu_with_sigmoid(x, out=None):
    """SiLU (swish) of an array, x * sigmoid(x), and s = sigmoid(x) for the derivative.

    s = 1 / (1 + e^-x) keeps its relative precision for large negative x (e^-x is large, not
    rounded away), where SiLU's values are small but not zero, as PyTorch's are; below about
    -88 (float32) e^-x overflows to inf and s is 0, the right limit, so that warning is off.
    """
    s = np.negative(x)
    with np.errstate(over="ignore"):
        np.exp(s, out=s)
    s += 1.0
    np.divide(1.0, s, out=s)
    return np.multiply(x, s, out=out), s


def silu_derivative(x, s):
    """dy/dx of SiLU at x, given s = sigmoid(x) from the forward pass.

    y = x s,  ds/dx = s (1 - s),  so  dy/dx = s + x s (1 - s) = s (1 + x (1 - s))
    """
    slope = np.asarray(1.0 - s)
    slope *= x
    slope += 1.0
    slope *= s
    return slope


def silu_and_slope(x, need_slope, bias=None):
    """SiLU of x (+ bias, added into x) and, if need_slope, its derivative (else None)."""
    return activation_and_slope(x, silu_with_sigmoid, silu_derivative, need_slope, bias)


class SiLU(Function):
    """SiLU, also called swish: y = x * sigmoid(x) (see `silu_with_sigmoid`).

    As for GELU, forward computes the derivative s (1 + x (1 - s)) while it has the sigmoid s
    at hand and keeps only that; backward is dL/dx = dL/dy * dy/dx.
    """

    @staticmethod
    def forward(ctx, x):
        out, slope = silu_and_slope(x, ctx.needs_input_grad[0])
        ctx.save_for_backward(slope)
        return out

    @staticmethod
    def backward(ctx, grad):
        (slope,) = ctx.saved_tensors
        return grad * slope
