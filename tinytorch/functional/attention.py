"""Fused scaled dot-product attention: one graph node from q, k, v to the output."""
import math

import numpy as np

from ..autograd import Function
from .dropout import keep_mask
from .rowwise import row_blocks, row_dots, row_sums


def causal_mask(n_queries, n_keys):
    """Bool (Tq, Tk), True where query i must NOT see key j.

    Aligned to the end: query i sits at position Tk - Tq + i of the keys and sees keys up to
    and including that position. With Tq == Tk this is the usual lower triangle; with fewer
    queries (generation with a KV cache) the queries are the newest positions.
    (PyTorch aligns to the start instead, which is only the same when Tq == Tk.)
    """
    if n_queries > n_keys:
        raise ValueError(f"causal attention with {n_queries} queries but only {n_keys} keys "
                         f"would leave the first queries nothing to attend to")
    return np.triu(np.ones((n_queries, n_keys), dtype=bool), k=n_keys - n_queries + 1)


def _check_shapes(q, k, v):
    if q.ndim < 2 or k.shape[:-2] != v.shape[:-2] or k.shape[-2] != v.shape[-2] \
            or q.shape[-1] != k.shape[-1]:
        raise ValueError(f"scaled_dot_product_attention wants q (..., Tq, D), k (..., Tk, D) "
                         f"and v (..., Tk, Dv); got {q.shape}, {k.shape}, {v.shape}")


def causal_bias(n_queries, n_keys, dtype):
    """(Tq, Tk): 0 where a query may look, -inf where `causal_mask` forbids it. Adding it to
    the scores is one pass; assigning -inf through a boolean index is several times slower."""
    return np.where(causal_mask(n_queries, n_keys), -np.inf, 0.0).astype(dtype)


def softmax_in_place(scores, bias=None):
    """Softmax over the last axis of scores (..., Tq, Tk), written over them; `bias` (Tq, Tk)
    is added first. The row max is subtracted so that e^x cannot overflow."""
    if bias is not None:
        scores += bias
    scores -= np.max(scores, axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    rows = scores.reshape(-1, scores.shape[-1])
    rows *= (1.0 / row_sums(rows))[:, None]


class ScaledDotProductAttention(Function):
    """out = dropout(softmax(q k^T / sqrt(D) + mask)) @ v for q (B, H, Tq, D), k, v (B, H, Tk, D).

    The scale is folded into q (Tq x D numbers, fewer than Tq x Tk scores). Backward, with
    A the attention weights, A' = dropout(A), S the scores and g = dL/dout:
        dL/dv  = A'^T g
        dL/dA' = g v^T,   dL/dA = dL/dA' * keep / (1 - p)
        dL/dS  = A * (dL/dA - rowsum(dL/dA * A))                (softmax backward)
        dL/dq  = (dL/dS @ k) * scale,   dL/dk = dL/dS^T @ (q * scale)
    Masked scores are -inf, so their weights are exactly 0 and pass no gradient.
    """

    @staticmethod
    def forward(ctx, q, k, v, is_causal, dropout_p, generator):
        _check_shapes(q, k, v)
        scale = 1.0 / math.sqrt(q.shape[-1])
        q_scaled = q * scale
        scores = q_scaled @ k.swapaxes(-1, -2)                  # (B, H, Tq, Tk)
        bias = causal_bias(q.shape[-2], k.shape[-2], scores.dtype) if is_causal else None
        att = scores                             # the softmax turns them into weights in place
        matrices = att.reshape(-1, *att.shape[-2:])             # (B*H, Tq, Tk), a view
        for block in row_blocks(matrices):                      # cache-sized, see rowwise.py
            softmax_in_place(matrices[block], bias)
        att_used, keep = att, None
        if dropout_p > 0.0:
            keep = keep_mask(att.shape, dropout_p, generator)
            att_used = att * keep
            att_used *= 1.0 / (1.0 - dropout_p)
        ctx.save_for_backward(q_scaled, k, v, att, keep)
        ctx.scale, ctx.dropout_p = scale, dropout_p
        return att_used @ v

    @staticmethod
    def backward(ctx, grad):
        q_scaled, k, v, att, keep = ctx.saved_tensors
        need_q, need_k, need_v = ctx.needs_input_grad[:3]
        if keep is not None:
            att_used = att * keep
            att_used *= 1.0 / (1.0 - ctx.dropout_p)
        else:
            att_used = att
        grad_v = att_used.swapaxes(-1, -2) @ grad if need_v else None
        grad_scores = grad @ v.swapaxes(-1, -2)                 # dL/dA', then dL/dA, then dL/dS
        if keep is not None:
            grad_scores *= keep
            grad_scores *= 1.0 / (1.0 - ctx.dropout_p)
        grads = grad_scores.reshape(-1, *att.shape[-2:])        # (B*H, Tq, Tk)
        weights = att.reshape(grads.shape)
        for block in row_blocks(grads):
            grad_rows = grads[block].reshape(-1, att.shape[-1])
            att_rows = weights[block].reshape(-1, att.shape[-1])
            grad_rows -= row_dots(grad_rows, att_rows)[:, None]
            grad_rows *= att_rows
        grad_q = grad_scores @ k if need_q else None
        if grad_q is not None:
            grad_q *= ctx.scale
        grad_k = grad_scores.swapaxes(-1, -2) @ q_scaled if need_k else None
        return grad_q, grad_k, grad_v, None, None, None
