"""Elementwise ops: each output element depends on the matching input elements only.

So each backward is the incoming gradient times the local derivative, elementwise. Binary ops
broadcast their operands; they return gradients in the broadcast (output) shape and the engine
sums them back to each input's shape. A Python number as an operand stays a Python number, so
that NumPy keeps the tensor's dtype (a float32 tensor times 0.5 stays float32).
"""
import numpy as np

from ..autograd import Function


class Add(Function):
    """a + b, broadcasting."""

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


class Sub(Function):
    """a - b, broadcasting."""

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, grad):
        return grad, (-grad if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """a * b, broadcasting."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        grad_a = grad * b if ctx.needs_input_grad[0] else None
        grad_b = grad * a if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class Div(Function):
    """a / b, broadcasting.  d/da = 1/b,  d/db = -a/b^2 = -out/b."""

    @staticmethod
    def forward(ctx, a, b):
        out = a / b
        ctx.save_for_backward(b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        b, out = ctx.saved_tensors
        grad_over_b = grad / b
        grad_b = -grad_over_b * out if ctx.needs_input_grad[1] else None
        return grad_over_b, grad_b


class Neg(Function):
    """-x."""

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Pow(Function):
    """x ** exponent for a Python number exponent.  d/dx = exponent * x^(exponent - 1)."""

    @staticmethod
    def forward(ctx, x, exponent):
        ctx.save_for_backward(x)
        ctx.exponent = exponent
        return x ** exponent

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        p = ctx.exponent
        return grad * p * x ** (p - 1), None


class Exp(Function):
    """e^x.  d/dx = e^x, the output itself."""

    @staticmethod
    def forward(ctx, x):
        out = np.exp(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out


class Log(Function):
    """Natural log.  d/dx = 1/x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / x


class Sqrt(Function):
    """Square root.  d/dx = 1 / (2 sqrt(x))."""

    @staticmethod
    def forward(ctx, x):
        out = np.sqrt(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * 0.5 / out


class Tanh(Function):
    """tanh(x).  d/dx = 1 - tanh(x)^2.

    Forward saves its output tanh(x), not x, which is all the derivative needs. Backward
    returns a new array: it writes into neither `grad` (other inputs may share that array) nor
    the saved output (backward may run again with retain_graph).
    """

    @staticmethod
    def forward(ctx, x):
        out = np.tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        # BEGIN EXERCISE tanh_backward: dL/dx = grad * (1 - tanh(x)^2); forward saved tanh(x)
        (out,) = ctx.saved_tensors
        return grad * (1.0 - out * out)
        # END EXERCISE tanh_backward


class Sigmoid(Function):
    """1 / (1 + e^-x).  d/dx = s (1 - s)."""

    @staticmethod
    def forward(ctx, x):
        # 0.5 (1 + tanh(x/2)) is the same function and never overflows for large |x|.
        out = 0.5 * (1.0 + np.tanh(0.5 * x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out * (1.0 - out)


class ReLU(Function):
    """max(x, 0).  The gradient passes where x > 0 (at exactly 0 it is taken as 0)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x > 0)
        return np.maximum(x, 0)

    @staticmethod
    def backward(ctx, grad):
        (positive,) = ctx.saved_tensors
        return grad * positive


class Cast(Function):
    """x converted to another floating dtype; the gradient is converted back."""

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.input_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.input_dtype), None
