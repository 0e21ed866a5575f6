"""The standard layers: thin modules that hold parameters and call `tinytorch.functional`.

Each forward takes an optional `functional`, the module of functions to compute with:
`tinytorch.functional` (fused kernels, the default) or `tinytorch.functional.composed`
(the same functions from primitive ops, to step through). Models pass it down so that one
switch picks the path for every layer.
"""
import math

import numpy as np

from .. import functional as F
from . import init
from .module import Module, Parameter


class Linear(Module):
    """y = x @ weight^T + bias with weight (out_features, in_features), as in PyTorch.

    Initialised as PyTorch does: weight and bias from U(-1/sqrt(in), 1/sqrt(in)).
    """

    def __init__(self, in_features, out_features, bias=True, generator=None, dtype=np.float32):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(np.empty((out_features, in_features), dtype))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        self.bias = None
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype))
            bound = 1.0 / math.sqrt(in_features)
            init.uniform_(self.bias, -bound, bound, generator)

    def forward(self, x, functional=F):
        return functional.linear(x, self.weight, self.bias)

    def affine(self):
        """(weight, bias) such that this layer computes F.linear(x, weight, bias): for a fused
        kernel that takes the weights of several layers (a layer that wraps a Linear, such as
        a LoRA adapter, gives the weight it effectively computes with)."""
        return self.weight, self.bias

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Embedding(Module):
    """A (num_embeddings, embedding_dim) table; forward(ids) picks rows. Initialised N(0, 1)."""

    def __init__(self, num_embeddings, embedding_dim, generator=None, dtype=np.float32):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype))
        init.normal_(self.weight, 0.0, 1.0, generator)

    def forward(self, ids, functional=F):
        return functional.embedding(ids, self.weight)

    def attend(self, x, functional=F):
        """x (..., embedding_dim) -> (..., num_embeddings): x @ weight^T, the table read
        backwards, as a language model's head tied to its embedding does (flax's name)."""
        return functional.linear(x, self.weight)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"


class LayerNorm(Module):
    """Normalise over the trailing `normalized_shape` axes, then scale (weight, ones) and
    shift (bias, zeros)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 dtype=np.float32):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        self.weight = Parameter(np.ones(shape, dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape, dtype)) if elementwise_affine and bias else None

    def forward(self, x, functional=F):
        return functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}"


class RMSNorm(Module):
    """Root-mean-square normalisation over the trailing `normalized_shape` axes, then a scale
    (weight, ones), as in `torch.nn.RMSNorm`: eps None is the machine epsilon of the input's
    dtype; Llama checkpoints give theirs (rms_norm_eps)."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, dtype=np.float32):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        self.weight = Parameter(np.ones(shape, dtype)) if elementwise_affine else None

    def forward(self, x, functional=F):
        return functional.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}"


class Dropout(Module):
    """Inverted dropout in training mode, the identity in eval mode.

    `generator` (an np.random.Generator) makes the dropped elements reproducible; modules of
    one model usually share one generator.
    """

    def __init__(self, p=0.5, generator=None):
        super().__init__()
        self.p, self.generator = p, generator

    def forward(self, x, functional=F):
        return functional.dropout(x, self.p, self.training, self.generator)

    def extra_repr(self):
        return f"p={self.p}"


class GELU(Module):
    """GPT-2's tanh GELU as a module."""

    def __init__(self, approximate="tanh"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x, functional=F):
        return functional.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """SiLU (swish), x * sigmoid(x), as a module."""

    def forward(self, x, functional=F):
        return functional.silu(x)
