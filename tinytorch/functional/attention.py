"""Fused scaled dot-product attention, grouped-query attention included: one graph node from
q, k, v to the output."""
import numpy as np

from ..autograd import Function
from ..blas import matmul
from .dropout import keep_mask
from .rowwise import max_along, row_blocks, row_dots, row_sums


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


def causal_bias(n_queries, n_keys, dtype):
    """(Tq, Tk): 0 where a query may look, -inf where `causal_mask` forbids it. Adding it to
    the scores is one pass; assigning -inf through a boolean index is several times slower."""
    return np.where(causal_mask(n_queries, n_keys), -np.inf, 0.0).astype(dtype)


def softmax_in_place(scores, bias=None):
    """Softmax over the last axis of scores (..., Tq, Tk), written over them; `bias` (Tq, Tk)
    is added first. The row max is subtracted so that e^x cannot overflow."""
    if bias is not None:
        scores += bias
    scores -= max_along(scores, -1)
    np.exp(scores, out=scores)
    rows = scores.reshape(-1, scores.shape[-1])
    rows *= (1.0 / row_sums(rows))[:, None]


def group_queries(q, n_kv_heads):
    """q (..., Hq, Tq, D) -> (..., Hkv, G*Tq, D) with G = Hq / Hkv: the G query heads that
    share key/value head j become one block of rows under head j (query head h reads key/value
    head h // G). One matrix product per key/value head then serves its whole group, and keys
    and values are never repeated. A reshape: no copy when q is contiguous."""
    *lead, n_heads, n_queries, head_size = q.shape
    return q.reshape(*lead, n_kv_heads, (n_heads // n_kv_heads) * n_queries, head_size)


def attention_rows(q, k, is_causal, enable_gqa, scale):
    """The scaled queries and the attention weights, both in rows grouped per key/value head:
    q * scale (..., Hkv, G*Tq, D) and softmax(q k^T * scale + mask) (..., Hkv, G*Tq, Tk) for
    q (..., Hq, Tq, D), k (..., Hkv, Tk, D). Without enable_gqa, G = 1 and the leading axes of
    q and k broadcast. The forward pass and `F.attention_weights` both compute through here.

    The scores become the weights in place, over cache-sized blocks of matrices; the causal
    bias of one head (Tq, Tk) is repeated for the G heads stacked in the rows.
    """
    q_scaled = q * scale
    if enable_gqa:
        q_scaled = group_queries(q_scaled, k.shape[-3])
    att = matmul(q_scaled, k.swapaxes(-1, -2))                  # (..., G*Tq, Tk)
    bias = None
    if is_causal:
        n_queries, n_groups = q.shape[-2], att.shape[-2] // q.shape[-2]
        bias = np.tile(causal_bias(n_queries, k.shape[-2], att.dtype), (n_groups, 1))
    matrices = att.reshape(-1, *att.shape[-2:])                 # (B*Hkv, G*Tq, Tk), a view
    for block in row_blocks(matrices):                          # cache-sized, see rowwise.py
        softmax_in_place(matrices[block], bias)
    return q_scaled, att


class ScaledDotProductAttention(Function):
    """out = dropout(softmax(q k^T * scale + mask)) @ v for q (..., Hq, Tq, D),
    k (..., Hkv, Tk, D), v (..., Hkv, Tk, Dv); scale is usually 1/sqrt(D).

    With enable_gqa, query head h reads key/value head h // G, G = Hq / Hkv: the queries are
    grouped per key/value head (`group_queries`), so each product below is one per key/value
    head and k and v are never repeated; the product over the stacked rows also sums the
    gradients of k and v over their group.

    The scale is folded into q (Tq x D numbers, fewer than Tq x Tk scores). Backward, with
    A the attention weights, A' = dropout(A), S the scores and g = dL/dout:
        dL/dv  = A'^T g
        dL/dA' = g v^T,   dL/dA = dL/dA' * keep / (1 - p)
        dL/dS  = A * (dL/dA - rowsum(dL/dA * A))                (softmax backward)
        dL/dq  = (dL/dS @ k) * scale,   dL/dk = dL/dS^T @ (q * scale)
    Masked scores are -inf, so their weights are exactly 0 and pass no gradient.
    """

    @staticmethod
    def forward(ctx, q, k, v, is_causal, dropout_p, generator, enable_gqa, scale):
        q_scaled, att = attention_rows(q, k, is_causal, enable_gqa, scale)
        att_used, keep = att, None
        if dropout_p > 0.0:
            # Drawn in the (..., Hq, Tq, Tk) order in which the composed twin draws it.
            weights_shape = q.shape[:-1] + k.shape[-2:-1] if enable_gqa else att.shape
            keep = keep_mask(weights_shape, dropout_p, generator).reshape(att.shape)
            att_used = att * keep
            att_used *= 1.0 / (1.0 - dropout_p)
        ctx.save_for_backward(q_scaled, k, v, att, keep)
        ctx.scale, ctx.dropout_p, ctx.q_shape = scale, dropout_p, q.shape
        ctx.enable_gqa = enable_gqa
        out = matmul(att_used, v)                               # (..., Hkv, G*Tq, Dv)
        return out.reshape(q.shape[:-1] + v.shape[-1:]) if enable_gqa else out

    @staticmethod
    def backward(ctx, grad):
        q_scaled, k, v, att, keep = ctx.saved_tensors
        need_q, need_k, need_v = ctx.needs_input_grad[:3]
        if ctx.enable_gqa:
            grad = grad.reshape(att.shape[:-1] + v.shape[-1:])  # grouped rows, as in forward
        if keep is not None:
            att_used = att * keep
            att_used *= 1.0 / (1.0 - ctx.dropout_p)
        else:
            att_used = att
        grad_v = matmul(att_used.swapaxes(-1, -2), grad) if need_v else None
        grad_scores = matmul(grad, v.swapaxes(-1, -2))          # dL/dA', then dL/dA, then dL/dS
        if keep is not None:
            grad_scores *= keep
            grad_scores *= 1.0 / (1.0 - ctx.dropout_p)
        grads = grad_scores.reshape(-1, *att.shape[-2:])        # (B*Hkv, G*Tq, Tk)
        weights = att.reshape(grads.shape)
        for block in row_blocks(grads):
            grad_rows = grads[block].reshape(-1, att.shape[-1])
            att_rows = weights[block].reshape(-1, att.shape[-1])
            grad_rows -= row_dots(grad_rows, att_rows)[:, None]
            grad_rows *= att_rows
        grad_q = matmul(grad_scores, k) if need_q else None
        if grad_q is not None:
            grad_q *= ctx.scale
            if ctx.enable_gqa:
                grad_q = grad_q.reshape(ctx.q_shape)
        grad_k = matmul(grad_scores.swapaxes(-1, -2), q_scaled) if need_k else None
        return grad_q, grad_k, grad_v, None, None, None, None, None
