"""Making tensors, and the functions that combine several: cat, stack, where."""
import numpy as np

from . import ops
from .tensor import NUMERIC_KINDS, Tensor, _operand, check_numeric

DEFAULT_DTYPE = np.float32


def _as_array(data, dtype):
    """float32 for Python floats, as in PyTorch; an ndarray keeps its own dtype unless told.
    Data that is not numbers (an object array, text) is a TypeError here, at once."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return check_numeric(np.array(data, dtype=_numeric_dtype(dtype)))
    array = check_numeric(np.array(data))
    if array.dtype == np.float64 and not isinstance(data, (np.ndarray, np.generic)):
        array = array.astype(DEFAULT_DTYPE)
    return array


def _numeric_dtype(dtype):
    """np.dtype(dtype), refusing dtypes that hold no numbers (object, text) before any
    conversion to them happens."""
    dtype = np.dtype(dtype)
    if dtype.kind not in NUMERIC_KINDS:
        raise TypeError(f"a tensor holds numbers, not dtype {dtype}")
    return dtype


def tensor(data, requires_grad=False, dtype=None):
    """A new leaf tensor holding a copy of `data` (a number, nested lists or an ndarray)."""
    return Tensor(_as_array(data, dtype), requires_grad=requires_grad)


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and not isinstance(shape[0], int) else shape


def zeros(*shape, dtype=DEFAULT_DTYPE, requires_grad=False):
    return Tensor(np.zeros(_shape(shape), _numeric_dtype(dtype)), requires_grad=requires_grad)


def ones(*shape, dtype=DEFAULT_DTYPE, requires_grad=False):
    return Tensor(np.ones(_shape(shape), _numeric_dtype(dtype)), requires_grad=requires_grad)


def zeros_like(t, requires_grad=False):
    return Tensor(np.zeros_like(t.data), requires_grad=requires_grad)


def ones_like(t, requires_grad=False):
    return Tensor(np.ones_like(t.data), requires_grad=requires_grad)


def randn(*shape, generator=None, dtype=DEFAULT_DTYPE, requires_grad=False):
    """Standard normal values from `generator` (an np.random.Generator; a fresh unseeded one
    if None: pass a generator for reproducible results)."""
    generator = np.random.default_rng() if generator is None else generator
    data = generator.standard_normal(_shape(shape), dtype=np.float64).astype(dtype)
    return Tensor(data, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    """start, start + step, ... below end; int64 for whole numbers, else float32."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        whole = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if whole else DEFAULT_DTYPE
    return Tensor(np.arange(start, end, step, dtype=dtype), requires_grad=requires_grad)


def cat(tensors, dim=0):
    """The tensors joined along the existing axis `dim`."""
    return ops.Cat.apply(dim, *tensors)


def stack(tensors, dim=0):
    """The tensors (all one shape) joined along a new axis `dim`."""
    return ops.Stack.apply(dim, *tensors)


def where(condition, a, b):
    """Elementwise `a if condition else b`, broadcasting; condition is a bool array/tensor.
    a and b may be numbers (a NumPy scalar becomes a Python number, so float32 stays float32)."""
    condition = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    return ops.Where.apply(condition, _operand(a), _operand(b))
