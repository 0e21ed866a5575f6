"""What the graded tests of the exercises share: running one Function's forward and backward
directly (without the engine, so that a backward exercise is graded on its own, whatever the
state of the topological sort or of unbroadcast), and central differences in float64.
"""
import numpy as np

from tinytorch.autograd import Node


def read_only(array):
    """`array` made read-only: the module-level arrays the graded tests share must survive a
    wrong answer that writes into its arguments (the tests of the tests run every answer in
    one process), and such an answer fails on them at once."""
    array = np.asarray(array)
    array.setflags(write=False)
    return array


def run_forward(function, *args):
    """(ctx, output) of `function.forward` on plain arguments: ctx is the node backward gets,
    with needs_input_grad True for every floating-point array argument."""
    needs = tuple(isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in args)
    ctx = Node(function, args, needs)
    return ctx, function.forward(ctx, *args)


def run_backward(function, ctx, grad):
    """`function.backward(ctx, grad)` as a tuple of per-input gradients (a bare array, as a
    backward with one input may return, becomes a 1-tuple)."""
    grads = function.backward(ctx, grad)
    return grads if isinstance(grads, tuple) else (grads,)


def sum_to_shape(grad, shape):
    """What the engine does with a gradient returned in the broadcast shape: sum it over the
    axes that broadcasting added or stretched (an independent copy of the idea, so that the
    graded tests of a backward do not depend on the unbroadcast exercise)."""
    grad = np.asarray(grad)
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def numeric_gradient(f, x, eps=1e-6):
    """d f() / d x by central differences, for f() a float that reads the float64 array x;
    x is nudged in place, one element at a time, and restored."""
    grad = np.zeros_like(x)
    flat_x, flat_grad = x.reshape(-1), grad.reshape(-1)
    for i in range(flat_x.size):
        kept = flat_x[i]
        flat_x[i] = kept + eps
        plus = f()
        flat_x[i] = kept - eps
        minus = f()
        flat_x[i] = kept
        flat_grad[i] = (plus - minus) / (2 * eps)
    return grad


def check_backward(function, args, grad_out, rtol=1e-6, atol=1e-8):
    """Assert that `function.backward` gives, for every float64 array in `args`, the gradient
    of sum(forward(*args) * grad_out) that central differences give (after summing it over
    broadcast axes, as the engine would). Also asserts that backward wrote into neither
    grad_out nor the arrays forward saved: a second backward on the same ctx gives the same.
    Returns backward's gradients."""
    ctx, _ = run_forward(function, *args)
    grad_copy = np.array(grad_out, copy=True)
    grads = run_backward(function, ctx, grad_out)
    np.testing.assert_array_equal(grad_out, grad_copy,
                                  err_msg=f"{function.__name__}.backward changed its grad")
    again = run_backward(function, ctx, np.array(grad_copy, copy=True))
    for i, arg in enumerate(args):
        if not (isinstance(arg, np.ndarray) and arg.dtype.kind == "f"):
            continue
        assert i < len(grads) and grads[i] is not None, f"no gradient for input {i}"
        analytic = sum_to_shape(grads[i], arg.shape)
        assert analytic.shape == arg.shape, f"input {i}: gradient shape {analytic.shape}"
        numeric = numeric_gradient(lambda: forward_dot(function, args, grad_out), arg)
        np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol,
                                   err_msg=f"{function.__name__}: gradient of input {i}")
        np.testing.assert_array_equal(
            sum_to_shape(again[i], arg.shape), analytic,
            err_msg=f"{function.__name__}: a second backward gave another gradient (did the "
                    f"first one write into the arrays forward saved?)")
    return grads


def forward_dot(function, args, grad_out):
    """sum(forward(*args) * grad_out): the function whose gradient backward gives."""
    _, out = run_forward(function, *args)
    return float(np.sum(out * grad_out))
