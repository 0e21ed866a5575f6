"""Checking analytic gradients against finite differences.

For a function f of some tensors, backward() gives the analytic gradient. The numeric one
nudges one input element at a time by +-eps and measures the change (central differences):

    df/dx_i  ~  (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)        error O(eps^2)

f may return any shape: it is reduced to the scalar sum(f(x) * r) with a fixed random r, whose
gradient is the vector-Jacobian product backward computes. A wrong Jacobian entry shows up
for almost every r.
"""
import numpy as np

from .autograd import no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """An analytic gradient that disagrees with finite differences."""


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, n_samples=None, seed=0):
    """True if backward's gradients of `fn(*inputs)` match central differences; else raises
    GradcheckError naming the input, the element, both values and the relative error (the
    absolute one where the numeric value is 0).

    inputs     a tensor or a sequence of arguments; tensors with requires_grad=True are
               checked and must be float64 (float32's 7 digits drown the eps^2 accuracy)
    n_samples  check this many randomly chosen elements per input instead of all of them
               (for large inputs; each element costs two forward passes)
    A pair passes when |analytic - numeric| <= atol + rtol * |numeric|.
    """
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, so nothing to check")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} is {inputs[i].dtype}; use float64 (x.to(np.float64), or "
                f"model.to(np.float64)). Central differences with eps={eps} need about 15 "
                f"significant digits; float32 has 7, so the check would only measure rounding.")
        inputs[i].data = np.asarray(inputs[i].data, order="C")   # so a flat view can nudge it
        inputs[i].grad = None

    rng = np.random.default_rng(seed)
    outputs = _float_outputs(fn(*inputs))
    projections = [rng.standard_normal(out.shape) for out in outputs]
    for out, projection in zip(outputs, projections):
        if out.requires_grad:
            out.backward(projection, retain_graph=True)

    def objective():
        with no_grad():
            return sum(float(np.sum(out.data * p))
                       for out, p in zip(_float_outputs(fn(*inputs)), projections))

    for i in checked:
        tensor = inputs[i]
        analytic = np.zeros(tensor.shape) if tensor.grad is None else tensor.grad
        tensor.grad = None
        flat = tensor.data.reshape(-1)
        elements = range(flat.size)
        if n_samples is not None and n_samples < flat.size:
            elements = np.sort(rng.choice(flat.size, n_samples, replace=False))
        for element in elements:
            original = flat[element]
            flat[element] = original + eps
            plus = objective()
            flat[element] = original - eps
            minus = objective()
            flat[element] = original
            numeric = (plus - minus) / (2 * eps)
            value = float(analytic.reshape(-1)[element])
            if not abs(value - numeric) <= atol + rtol * abs(numeric):
                index = np.unravel_index(element, tensor.shape)
                raise GradcheckError(
                    f"gradcheck failed for input {i} (shape {tensor.shape}) at element "
                    f"{tuple(int(n) for n in index)}: analytic {value:.8g}, numeric "
                    f"{numeric:.8g}, {_error(value, numeric)}")
    return True


def _error(analytic, numeric):
    """The relative error, or the absolute one where the numeric value is 0 (a relative error
    would be a division by zero)."""
    if numeric == 0.0:
        return f"absolute error {abs(analytic):.3g} (the numeric gradient is 0)"
    return f"relative error {abs(analytic - numeric) / abs(numeric):.3g}"


def _float_outputs(result):
    outputs = result if isinstance(result, (tuple, list)) else (result,)
    return [out for out in outputs if isinstance(out, Tensor) and out.dtype.kind == "f"]
