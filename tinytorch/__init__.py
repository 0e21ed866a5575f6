"""tinytorch: reverse-mode automatic differentiation on NumPy arrays.

    import tinytorch as tt
    x = tt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    x.grad            # array([2., 4., 6.], dtype=float32)
"""
# tensor first: it pulls in autograd and ops in the order their imports need.
from .tensor import Tensor
from .autograd import Function, enable_grad, is_grad_enabled, no_grad
from .creation import (arange, cat, ones, ones_like, randn, stack, tensor, where, zeros,
                       zeros_like)
from .gradcheck import GradcheckError, gradcheck
from . import functional, nn, optim
from . import blas, graph, memory, safetensors
from .serialization import load, save

__all__ = [
    "Tensor", "Function", "no_grad", "enable_grad", "is_grad_enabled", "tensor", "zeros",
    "ones", "zeros_like", "ones_like", "randn", "arange", "cat", "stack", "where", "gradcheck",
    "GradcheckError", "functional", "nn", "optim", "blas", "graph", "memory", "safetensors",
    "save", "load",
]
