"""The composed twins: the same functions as `tinytorch.functional`, built from primitive ops.

Read these first: each line is one op you can step through, and `print(tensor)` shows it.
The fused versions compute the same numbers (tests check both directions to 1e-9 in float64)
as one graph node each, with a backward derived by hand, which is faster and needs less memory.
"""
import math

import numpy as np

from ..creation import tensor
from ..tensor import Tensor
from .activations import GELU_A, GELU_C
from .attention import causal_mask
from .dropout import keep_mask
from .embedding import check_ids
from .loss import check_targets

__all__ = [
    "softmax", "log_softmax", "cross_entropy", "gelu", "layer_norm", "linear", "embedding",
    "dropout", "scaled_dot_product_attention",
]


def softmax(x, dim):
    # The max is a constant shift (softmax does not change under it), so it is detached.
    shifted = x - x.max(dim=dim, keepdim=True).detach()
    exps = shifted.exp()
    return exps / exps.sum(dim=dim, keepdim=True)


def log_softmax(x, dim):
    shifted = x - x.max(dim=dim, keepdim=True).detach()
    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()


def cross_entropy(logits, target, ignore_index=-100, reduction="mean"):
    target = target.data if isinstance(target, Tensor) else np.asarray(target)
    valid = check_targets(target, logits.shape[1], ignore_index)
    log_probs = log_softmax(logits, dim=1)
    picked = log_probs[np.arange(len(target)), np.where(valid, target, 0)]   # (N,)
    row_losses = -(picked * valid.astype(logits.dtype))
    if reduction == "none":
        return row_losses
    total = row_losses.sum()
    return total / max(int(valid.sum()), 1) if reduction == "mean" else total


def gelu(x, approximate="tanh"):
    return 0.5 * x * (1.0 + (GELU_C * (x + GELU_A * x ** 3)).tanh())


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    n_dims = 1 if isinstance(normalized_shape, int) else len(normalized_shape)
    dims = tuple(range(-n_dims, 0))
    mean = x.mean(dim=dims, keepdim=True)
    variance = x.var(dim=dims, keepdim=True, correction=0)
    xhat = (x - mean) / (variance + eps).sqrt()
    if weight is not None:
        xhat = xhat * weight
    if bias is not None:
        xhat = xhat + bias
    return xhat


def linear(x, weight, bias=None):
    out = x @ weight.T
    return out + bias if bias is not None else out


def embedding(ids, weight):
    ids = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
    check_ids(ids, weight.shape[0])
    return weight[ids]


def dropout(x, p=0.5, training=True, generator=None):
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = keep_mask(x.shape, p, generator)
    return x * tensor(keep.astype(x.dtype)) * (1.0 / (1.0 - p))


def scaled_dot_product_attention(q, k, v, is_causal=False, dropout_p=0.0, generator=None):
    """softmax(q k^T / sqrt(D), masked) @ v for q (B, H, Tq, D), k and v (B, H, Tk, D).

    With is_causal, query i sees keys up to Tk - Tq + i (`causal_mask` gives True where it
    must not look; fill those scores with -inf before the softmax). The attention weights
    then go through `dropout(weights, dropout_p, training=dropout_p > 0, generator=generator)`
    before @ v, as the fused kernel does. Scores in the hundreds must not overflow (`softmax`
    here subtracts each row's max first). Built from Tensor ops only (no .data), so the engine
    differentiates it; float32 stays float32 (scale by a Python float such as 1 / math.sqrt(D)).
    """
    # BEGIN EXERCISE causal_attention: q k^T / sqrt(D), mask the future, softmax, dropout, @ v
    scores = (q * (1.0 / math.sqrt(q.shape[-1]))) @ k.transpose(-2, -1)    # (B, H, Tq, Tk)
    if is_causal:
        scores = scores.masked_fill(causal_mask(q.shape[-2], k.shape[-2]), float("-inf"))
    weights = softmax(scores, dim=-1)
    weights = dropout(weights, dropout_p, training=dropout_p > 0.0, generator=generator)
    return weights @ v
    # END EXERCISE causal_attention
