"""Fused softmax, log-softmax and GELU: one graph node each, with a hand-derived backward.

The composed twins in `composed.py` build the same functions from primitive ops; tests check
that both agree and that both pass gradcheck.
"""
import math

import numpy as np

from ..autograd import Function


class Softmax(Function):
    """softmax(x)_i = e^(x_i - max x) / sum_j e^(x_j - max x) along `dim`.

    Subtracting the max changes nothing mathematically and keeps e^x from overflowing.
    Backward, with s the output and g the incoming gradient:
        dL/dx_i = sum_j g_j ds_j/dx_i = s_i (g_i - sum_j g_j s_j)
    """

    @staticmethod
    def forward(ctx, x, dim):
        shifted = x - np.max(x, axis=dim, keepdims=True)
        probs = np.exp(shifted, out=shifted)
        probs /= np.sum(probs, axis=dim, keepdims=True)
        ctx.dim = dim
        ctx.save_for_backward(probs)
        return probs

    @staticmethod
    def backward(ctx, grad):
        # BEGIN EXERCISE softmax_backward
        (probs,) = ctx.saved_tensors
        grad_x = grad * probs
        grad_x -= probs * np.sum(grad_x, axis=ctx.dim, keepdims=True)
        return grad_x, None
        # END EXERCISE softmax_backward


class LogSoftmax(Function):
    """log softmax(x)_i = x_i - max x - log sum_j e^(x_j - max x) along `dim`.

    Backward: d/dx_i of sum_j g_j (x_j - logsumexp x) = g_i - softmax(x)_i sum_j g_j
    """

    @staticmethod
    def forward(ctx, x, dim):
        shifted = x - np.max(x, axis=dim, keepdims=True)
        log_norm = np.log(np.sum(np.exp(shifted), axis=dim, keepdims=True))
        shifted -= log_norm
        ctx.dim = dim
        ctx.save_for_backward(shifted)
        return shifted

    @staticmethod
    def backward(ctx, grad):
        (log_probs,) = ctx.saved_tensors
        return grad - np.exp(log_probs) * np.sum(grad, axis=ctx.dim, keepdims=True), None


GELU_C = math.sqrt(2.0 / math.pi)
GELU_A = 0.044715


class GELU(Function):
    """GPT-2's tanh GELU:  y = 0.5 x (1 + tanh(u)),  u = c (x + a x^3),  c = sqrt(2/pi).

    With t = tanh(u):  dy/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 a x^2).
    Forward keeps x and t; everything else is recomputed in place in backward.
    """

    @staticmethod
    def forward(ctx, x):
        t = x * x                      # then c x (1 + a x^2), then tanh of that, in place
        t *= GELU_C * GELU_A
        t += GELU_C
        t *= x
        np.tanh(t, out=t)
        out = t + 1.0
        out *= x
        out *= 0.5
        ctx.save_for_backward(x, t)
        return out

    @staticmethod
    def backward(ctx, grad):
        # BEGIN EXERCISE gelu_derivative
        x, t = ctx.saved_tensors
        du_dx = x * x                  # c (1 + 3 a x^2)
        du_dx *= 3.0 * GELU_C * GELU_A
        du_dx += GELU_C
        slope = t * t                  # 1 - t^2, times x, times du/dx
        np.subtract(1.0, slope, out=slope)
        slope *= x
        slope *= du_dx
        slope += t                     # + (1 + t), all halved
        slope += 1.0
        slope *= 0.5
        slope *= grad
        return slope
        # END EXERCISE gelu_derivative
