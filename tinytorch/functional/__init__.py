"""The neural-network functions, as in `torch.nn.functional`.

Each function here is fused: one `Function` node with a hand-derived, vectorised backward (the
kernels live beside this file). `tinytorch.functional.composed` has twins with the same names
and signatures built from primitive ops, for reading and stepping through.

    import tinytorch.functional as F
    loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
"""
import numpy as np

from ..tensor import Tensor
from .activations import GELU, LogSoftmax, Softmax
from .attention import ScaledDotProductAttention, causal_mask
from .dropout import Dropout
from .embedding import Embedding
from .linear import Linear
from .loss import CrossEntropy
from .normalization import LayerNorm

__all__ = [
    "softmax", "log_softmax", "cross_entropy", "gelu", "layer_norm", "linear", "embedding",
    "dropout", "scaled_dot_product_attention", "causal_mask",
]


def softmax(x, dim):
    """e^x / sum e^x along `dim`."""
    return Softmax.apply(x, dim)


def log_softmax(x, dim):
    """log softmax(x) along `dim`, computed without forming softmax first (stable)."""
    return LogSoftmax.apply(x, dim)


def cross_entropy(logits, target, ignore_index=-100, reduction="mean"):
    """Softmax cross-entropy for logits (N, C) and integer targets (N,).

    Targets equal to `ignore_index` are skipped. reduction: "mean" over the targets that are
    not ignored (0, with zero gradients, when all are; PyTorch gives nan), "sum", or "none"
    (one loss per row, 0 for ignored rows).
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")
    return CrossEntropy.apply(logits, _array(target), int(ignore_index), reduction)


def gelu(x, approximate="tanh"):
    """GPT-2's GELU, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).

    Only the tanh form exists here, so "tanh" is the default (PyTorch's default is the exact
    erf form, which GPT-2 does not use).
    """
    if approximate != "tanh":
        raise ValueError(f"only approximate='tanh' (GPT-2's GELU) is implemented, "
                         f"not {approximate!r}")
    return GELU.apply(x)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing `normalized_shape` axes, then scale and shift."""
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) \
        else tuple(normalized_shape)
    if tuple(x.shape[-len(normalized_shape):]) != normalized_shape:
        raise ValueError(f"layer_norm over {normalized_shape} needs an input ending in it, "
                         f"got {x.shape}")
    return LayerNorm.apply(x, weight, bias, len(normalized_shape), float(eps))


def linear(x, weight, bias=None):
    """x @ weight^T + bias, with weight (out, in) as in PyTorch."""
    return Linear.apply(x, weight, bias)


def embedding(ids, weight):
    """Rows of `weight` (V, C) picked by integer `ids` (any shape): (*ids.shape, C)."""
    return Embedding.apply(_array(ids), weight)


def dropout(x, p=0.5, training=True, generator=None):
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted
    dropout); the identity when not training or p == 0. `generator` makes it reproducible."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    return Dropout.apply(x, float(p), generator)


def scaled_dot_product_attention(q, k, v, is_causal=False, dropout_p=0.0, generator=None):
    """softmax(q k^T / sqrt(D)) v for q (B, H, Tq, D) and k, v (B, H, Tk, D).

    With is_causal, query i sees keys up to Tk - Tq + i: the mask is aligned to the end, as a
    KV cache needs (PyTorch aligns it to the start). dropout_p applies to the weights.
    """
    return ScaledDotProductAttention.apply(q, k, v, bool(is_causal), float(dropout_p), generator)


def _array(value):
    """Integer inputs (ids, targets) as plain arrays: they are data, not graph nodes."""
    return value.data if isinstance(value, Tensor) else np.asarray(value)
