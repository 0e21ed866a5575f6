"""`Tensor`: an ndarray (`.data`), its gradient (`.grad`) and the op that made it.

A tensor made by an op on tensors that require gradients remembers that op (its graph node),
so `backward()` can walk back to the leaves. Every method here is a thin call into an op in
`tinytorch.ops`; the maths lives there.
"""
import numpy as np

from . import autograd
from . import ops


class Tensor:
    """An n-dimensional array that can record how it was computed.

    .data            the values, always a real np.ndarray
    .grad            d(whatever backward() started from)/d(this tensor), an ndarray or None;
                     leaves accumulate it across backward calls until zero_grad()
    .requires_grad   whether ops on it are recorded
    """

    __slots__ = ("data", "grad", "requires_grad", "_node", "_output_index", "__weakref__")
    __array_priority__ = 1000     # ndarray + Tensor calls Tensor.__radd__, not NumPy's loop

    def __init__(self, data, requires_grad=False):
        if not isinstance(data, np.ndarray):
            data = check_numeric(np.asarray(data))
        if requires_grad and data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, "
                            f"not {data.dtype}; convert first, e.g. tt.tensor(x, dtype=np.float32)")
        self.data = data
        self.grad = None
        self.requires_grad = requires_grad
        self._node = None          # the op that made this tensor; None for a leaf
        self._output_index = 0     # which of that op's outputs this is

    # ----- what it is ---------------------------------------------------------------------

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def is_leaf(self):
        return self._node is None

    @property
    def grad_fn(self):
        """The name of the op that made this tensor, or None for a leaf."""
        return None if self._node is None else self._node.fn.__name__

    def numel(self):
        return self.data.size

    def item(self):
        return self.data.item()

    def numpy(self):
        return self.data

    def tolist(self):
        return self.data.tolist()

    def detach(self):
        """The same data, cut from the graph."""
        return Tensor(self.data)

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, not {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(", threshold=50,
                               edgeitems=2, precision=4)
        extras = [f"shape={self.shape}", f"dtype={self.dtype}"]
        if self._node is not None:
            extras.append(f"grad_fn=<{self.grad_fn}>")
        if self.requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({body}, {', '.join(extras)})"

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self):
        return bool(self.data)

    def __float__(self):
        return float(self.data)

    def __int__(self):
        return int(self.data)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    # ----- gradients ----------------------------------------------------------------------

    def backward(self, grad=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires a gradient.

        A scalar needs no `grad` (it is 1). A non-scalar needs `grad` of its own shape: the
        vector in the vector-Jacobian product. The graph is freed afterwards unless
        `retain_graph=True`.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad: no input "
                               "it was computed from has requires_grad=True")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() on a tensor of shape {self.shape} needs a gradient of that "
                    f"shape: pass grad=..., or reduce to a scalar first (e.g. y.sum().backward())")
            grad = np.ones(self.data.shape, self.data.dtype)    # np.ones_like: 1 us more
        else:
            grad = np.array(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"backward() got a gradient of shape {grad.shape} for a "
                                 f"tensor of shape {self.shape}")
        autograd.run_backward(self, grad, retain_graph)

    def retain_grad(self):
        """Keep `.grad` for this non-leaf tensor too (leaves always keep theirs)."""
        if self._node is not None:
            import weakref
            if self._node.retained is None:
                self._node.retained = {}
            self._node.retained[self._output_index] = weakref.ref(self)
        return self

    def zero_grad(self):
        self.grad = None

    # ----- arithmetic ---------------------------------------------------------------------

    def __add__(self, other):
        return ops.Add.apply(self, _operand(other))

    def __radd__(self, other):
        return ops.Add.apply(_operand(other), self)

    def __sub__(self, other):
        return ops.Sub.apply(self, _operand(other))

    def __rsub__(self, other):
        return ops.Sub.apply(_operand(other), self)

    def __mul__(self, other):
        return ops.Mul.apply(self, _operand(other))

    def __rmul__(self, other):
        return ops.Mul.apply(_operand(other), self)

    def __truediv__(self, other):
        return ops.Div.apply(self, _operand(other))

    def __rtruediv__(self, other):
        return ops.Div.apply(_operand(other), self)

    def __neg__(self):
        return ops.Neg.apply(self)

    def __pow__(self, exponent):
        if isinstance(exponent, Tensor):
            raise TypeError("the exponent must be a number; for a tensor exponent use "
                            "(exponent * base.log()).exp()")
        return ops.Pow.apply(self, _operand(exponent))

    def __rpow__(self, base):
        return (self * float(np.log(base))).exp()

    def __matmul__(self, other):
        return ops.MatMul.apply(self, _operand(other))

    def __rmatmul__(self, other):
        return ops.MatMul.apply(_operand(other), self)

    # Comparisons give bool tensors outside the graph (a comparison has no useful gradient).
    # `==` is elementwise as in PyTorch, so tensors hash by identity.
    __hash__ = object.__hash__

    def __eq__(self, other):
        return Tensor(self.data == _value(other))

    def __ne__(self, other):
        return Tensor(self.data != _value(other))

    def __lt__(self, other):
        return Tensor(self.data < _value(other))

    def __le__(self, other):
        return Tensor(self.data <= _value(other))

    def __gt__(self, other):
        return Tensor(self.data > _value(other))

    def __ge__(self, other):
        return Tensor(self.data >= _value(other))

    def exp(self):
        return ops.Exp.apply(self)

    def log(self):
        return ops.Log.apply(self)

    def sqrt(self):
        return ops.Sqrt.apply(self)

    def tanh(self):
        return ops.Tanh.apply(self)

    def relu(self):
        return ops.ReLU.apply(self)

    def sigmoid(self):
        return ops.Sigmoid.apply(self)

    def to(self, dtype):
        """This tensor converted to `dtype` (differentiable); itself if it already is."""
        dtype = np.dtype(dtype)
        return self if dtype == self.dtype else ops.Cast.apply(self, dtype)

    # ----- reductions ---------------------------------------------------------------------

    def sum(self, dim=None, keepdim=False):
        return ops.Sum.apply(self, dim, keepdim)

    def mean(self, dim=None, keepdim=False):
        return ops.Mean.apply(self, dim, keepdim)

    def var(self, dim=None, keepdim=False, correction=1):
        """Variance; correction=1 (PyTorch's default) divides by n - 1, correction=0 by n."""
        return ops.Var.apply(self, dim, correction, keepdim)

    def max(self, dim=None, keepdim=False):
        """The largest values over `dim`. Unlike PyTorch, returns only the values even when
        `dim` is given; `argmax(dim)` gives the indices."""
        return ops.Max.apply(self, dim, keepdim)

    def argmax(self, dim=None, keepdim=False):
        """Indices of the largest values (an int64 tensor; no gradient)."""
        return Tensor(np.argmax(self.data, axis=dim, keepdims=keepdim))

    # ----- shape --------------------------------------------------------------------------

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape
        return ops.Reshape.apply(self, tuple(shape))

    view = reshape

    def transpose(self, dim0, dim1):
        return ops.Transpose.apply(self, dim0, dim1)

    @property
    def T(self):
        """The last two axes swapped (for a matrix, its transpose)."""
        return ops.Transpose.apply(self, -1, -2)

    def permute(self, *dims):
        dims = dims[0] if len(dims) == 1 and not isinstance(dims[0], int) else dims
        return ops.Permute.apply(self, tuple(dims))

    def unsqueeze(self, dim):
        """A new size-1 axis at `dim` (negative counts from the end of the new shape)."""
        dim = dim if dim >= 0 else dim + self.ndim + 1
        return ops.Reshape.apply(self, self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim=None):
        """Size-1 axes removed (only `dim` if given, and only if it has size 1)."""
        if dim is None:
            shape = tuple(n for n in self.shape if n != 1)
        else:
            dim = dim % self.ndim
            shape = self.shape if self.shape[dim] != 1 else self.shape[:dim] + self.shape[dim + 1:]
        return ops.Reshape.apply(self, shape)

    def expand(self, *shape):
        shape = shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape
        return ops.Expand.apply(self, tuple(shape))

    def flatten(self):
        return ops.Reshape.apply(self, (-1,))

    # ----- selecting ----------------------------------------------------------------------

    def __getitem__(self, index):
        return ops.GetItem.apply(self, _index(index))

    def masked_fill(self, mask, value):
        """`value` where `mask` (bool, broadcastable to this tensor) is True."""
        return ops.MaskedFill.apply(self, _value(mask), float(value))

    def split(self, split_size_or_sections, dim=0):
        """Pieces along `dim`: of `split_size` each (the last may be smaller), or of the
        listed sizes. Returns a list of tensors, as PyTorch does."""
        length = self.shape[dim]
        if isinstance(split_size_or_sections, int):
            step = split_size_or_sections
            sizes = [min(step, length - start) for start in range(0, length, step)]
        else:
            sizes = list(split_size_or_sections)
        return list(ops.Split.apply(self, tuple(sizes), dim))


# dtype kinds a tensor can hold: bool, signed and unsigned integers, floats, complex numbers
NUMERIC_KINDS = "biufc"


def check_numeric(array):
    """`array` if it holds numbers; else a TypeError now, rather than a puzzling one in the
    first op that meets Python objects (dtype object) or text (dtype <U...)."""
    if array.dtype.kind not in NUMERIC_KINDS:
        what = {"O": "Python objects such as None", "U": "text", "S": "bytes"}.get(
            array.dtype.kind, "values that are not numbers")
        raise TypeError(f"a tensor holds numbers, not {what} (dtype {array.dtype})")
    return array


def _operand(value):
    """A tensor stays a tensor; a NumPy scalar becomes a Python number, so it does not
    promote float32 to float64 (NumPy 2 promotes for np.float64 scalars, not for floats)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _value(value):
    return value.data if isinstance(value, Tensor) else value


def _index(index):
    """Tensors inside an index become their arrays."""
    if isinstance(index, tuple):
        return tuple(_value(i) for i in index)
    return _value(index)
