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


# Causal attention cuts its queries into blocks of this many rows (see query_blocks).
QUERY_BLOCK = 64


def query_blocks(n_queries, n_keys, is_causal, grouped):
    """The blocks of query rows the kernel computes one after another, as (first row, row
    after the last, keys the block sees): block i's queries see the first `keys` keys only.

    Causal attention (without grouped queries) cuts the Tq queries into blocks of QUERY_BLOCK
    rows, and a block's scores stop at the key of its last query: the key columns that no
    query of the block may see are never computed, nor their softmax, nor their gradients
    (at Tq = Tk = 256, 10 of 16 blocks of 64 x 64 remain). Otherwise (and for Tq up to one
    block) all rows and all keys are one block. Grouped queries stack G heads' rows, so there
    the rows are not in query order: one block.
    """
    if not is_causal or grouped or n_queries <= QUERY_BLOCK:
        return [(0, None, n_keys)]
    offset = n_keys - n_queries                  # the mask is aligned to the end
    return [(first, min(first + QUERY_BLOCK, n_queries),
             offset + min(first + QUERY_BLOCK, n_queries))
            for first in range(0, n_queries, QUERY_BLOCK)]


def block_weights(q_rows, k, n_keys, bias):
    """softmax(q_rows k[:n_keys]^T + bias) over the keys, (..., R, n_keys), for scaled query
    rows (..., R, D) and keys (..., Tk, D); `bias` (R, n_keys) or None. The scores become the
    weights in place, over cache-sized blocks of matrices."""
    att = matmul(q_rows, k[..., :n_keys, :].swapaxes(-1, -2))
    matrices = att.reshape(-1, *att.shape[-2:])                 # (B*H, R, n_keys), a view
    for block in row_blocks(matrices):                          # cache-sized, see rowwise.py
        softmax_in_place(matrices[block], bias)
    return att


def block_bias(is_causal, n_rows, n_keys, n_groups, dtype):
    """The causal bias of a block of n_rows queries (the last ones of the first n_keys
    positions) repeated for n_groups stacked heads, or None without a mask."""
    if not is_causal:
        return None
    return np.tile(causal_bias(n_rows, n_keys, dtype), (n_groups, 1))


def scaled_queries(q, k, enable_gqa, scale):
    """q * scale, in rows grouped per key/value head with enable_gqa: (..., Hkv, G*Tq, D)."""
    q_scaled = q * scale
    return group_queries(q_scaled, k.shape[-3]) if enable_gqa else q_scaled


def attention_rows(q, k, is_causal, enable_gqa, scale):
    """The scaled queries and the attention weights of all queries and keys, both in rows
    grouped per key/value head: q * scale (..., Hkv, G*Tq, D) and
    softmax(q k^T * scale + mask) (..., Hkv, G*Tq, Tk) for q (..., Hq, Tq, D),
    k (..., Hkv, Tk, D). Without enable_gqa, G = 1 and the leading axes of q and k broadcast.
    `F.attention_weights` computes through here, and the forward pass block by block through
    the same `block_weights`."""
    q_scaled = scaled_queries(q, k, enable_gqa, scale)
    n_queries, n_keys = q.shape[-2], k.shape[-2]
    n_groups = q_scaled.shape[-2] // n_queries
    bias = block_bias(is_causal, n_queries, n_keys, n_groups, q_scaled.dtype)
    return q_scaled, block_weights(q_scaled, k, n_keys, bias)


class ScaledDotProductAttention(Function):
    """out = dropout(softmax(q k^T * scale + mask)) @ v for q (..., Hq, Tq, D),
    k (..., Hkv, Tk, D), v (..., Hkv, Tk, Dv); scale is usually 1/sqrt(D).

    With enable_gqa, query head h reads key/value head h // G, G = Hq / Hkv: the queries are
    grouped per key/value head (`group_queries`), so each product below is one per key/value
    head and k and v are never repeated; the product over the stacked rows also sums the
    gradients of k and v over their group. Causal attention goes block of queries by block
    (`query_blocks`), skipping the keys a block cannot see.

    The scale is folded into q (Tq x D numbers, fewer than Tq x Tk scores). Backward, with
    A the attention weights, A' = dropout(A), S the scores and g = dL/dout:
        dL/dv  = A'^T g
        dL/dA' = g v^T,   dL/dA = dL/dA' * keep / (1 - p)
        dL/dS  = A * (dL/dA - rowsum(dL/dA * A))                (softmax backward)
        dL/dq  = (dL/dS @ k) * scale,   dL/dk = dL/dS^T @ (q * scale)
    Masked scores are -inf, so their weights are exactly 0 and pass no gradient. Per block,
    dL/dq is the block's rows; dL/dk and dL/dv add up over the blocks that see each key.
    """

    @staticmethod
    def forward(ctx, q, k, v, is_causal, dropout_p, generator, enable_gqa, scale):
        q_scaled = scaled_queries(q, k, enable_gqa, scale)     # (..., Hkv, G*Tq, D)
        n_queries, n_keys = q.shape[-2], k.shape[-2]
        n_groups = q_scaled.shape[-2] // n_queries
        keep = None
        if dropout_p > 0.0:
            # Drawn whole, in the (..., Hq, Tq, Tk) order in which the composed twin draws it.
            shape = (q.shape[:-1] if enable_gqa
                     else np.broadcast_shapes(q.shape[:-2], k.shape[:-2]) + (n_queries,))
            keep = keep_mask(shape + (n_keys,), dropout_p, generator)
            if enable_gqa:
                keep = keep.reshape(q_scaled.shape[:-1] + (n_keys,))       # grouped rows
        blocks = query_blocks(n_queries, n_keys, is_causal, n_groups > 1)
        outs, weights = [], []
        for first, stop, seen in blocks:
            rows = q_scaled[..., first:stop, :]
            bias = block_bias(is_causal, rows.shape[-2] // n_groups, seen, n_groups,
                              q_scaled.dtype)
            att = block_weights(rows, k, seen, bias)
            weights.append(att)
            outs.append(matmul(dropped(att, keep, first, stop, dropout_p), v[..., :seen, :]))
        ctx.save_for_backward(q_scaled, k, v, keep)
        ctx.weights, ctx.blocks = weights, blocks
        ctx.scale, ctx.dropout_p, ctx.q_shape = scale, dropout_p, q.shape
        ctx.enable_gqa = enable_gqa
        out = outs[0] if len(outs) == 1 else np.concatenate(outs, axis=-2)
        return out.reshape(q.shape[:-1] + v.shape[-1:]) if enable_gqa else out

    @staticmethod
    def backward(ctx, grad):
        q_scaled, k, v, keep = ctx.saved_tensors
        need_q, need_k, need_v = ctx.needs_input_grad[:3]
        if ctx.enable_gqa:
            grad = grad.reshape(q_scaled.shape[:-1] + v.shape[-1:])  # grouped rows, as forward
        grads_q, grad_k, grad_v = [], None, None
        # The last block sees every key: taken first, it makes grad_k and grad_v whole, and
        # the blocks before it add into the keys they see.
        for (first, stop, seen), att in reversed(list(zip(ctx.blocks, ctx.weights))):
            grad_rows = grad[..., first:stop, :]
            att_used = dropped(att, keep, first, stop, ctx.dropout_p)
            if need_v:
                grad_v = accumulate(grad_v, matmul(att_used.swapaxes(-1, -2), grad_rows))
            grad_scores = matmul(grad_rows, v[..., :seen, :].swapaxes(-1, -2))   # dL/dA'
            if keep is not None:                                                # dL/dA
                grad_scores *= keep[..., first:stop, :seen]
                grad_scores *= 1.0 / (1.0 - ctx.dropout_p)
            softmax_backward_in_place(grad_scores, att)                         # dL/dS
            if need_q:
                grads_q.append(matmul(grad_scores, k[..., :seen, :]))
            if need_k:
                q_rows = q_scaled[..., first:stop, :]
                grad_k = accumulate(grad_k, matmul(grad_scores.swapaxes(-1, -2), q_rows))
        grad_q = None
        if need_q:
            grad_q = grads_q[0] if len(grads_q) == 1 else np.concatenate(grads_q[::-1], axis=-2)
            grad_q *= ctx.scale
            if ctx.enable_gqa:
                grad_q = grad_q.reshape(ctx.q_shape)
        return grad_q, grad_k, grad_v, None, None, None, None, None


def dropped(att, keep, first, stop, p):
    """The weights of rows first:stop after dropout (att itself without it)."""
    if keep is None:
        return att
    att_used = att * keep[..., first:stop, :att.shape[-1]]
    att_used *= 1.0 / (1.0 - p)
    return att_used


def accumulate(total, grad):
    """grad (..., n, D) added into the first n rows of total (..., N, D); grad itself first."""
    if total is None:
        return grad
    total[..., :grad.shape[-2], :] += grad
    return total


def softmax_backward_in_place(grad_weights, weights):
    """dL/dS = A * (dL/dA - rowsum(dL/dA * A)), written over dL/dA (..., R, n) row by row,
    over cache-sized blocks, for the weights A of the same shape."""
    grads = grad_weights.reshape(-1, *weights.shape[-2:])
    weights = weights.reshape(grads.shape)
    for block in row_blocks(grads):
        grad_rows = grads[block].reshape(-1, weights.shape[-1])
        att_rows = weights[block].reshape(-1, weights.shape[-1])
        grad_rows -= row_dots(grad_rows, att_rows)[:, None]
        grad_rows *= att_rows
