"""Embedding lookup: rows of a table picked by integer ids, as one graph node."""
import numpy as np

from ..autograd import Function


class Embedding(Function):
    """out[..., :] = weight[ids[...], :] for ids (...) and weight (V, C).

    Backward adds each output row's gradient into the row of weight it came from (a
    scatter-add): grad_weight (V, C) is zero except in the rows of the ids that occur, and an
    id that occurs several times receives the sum of its rows' gradients. It returns
    (None, grad_weight): ids get no gradient. Rather than `np.add.at` (slow: one Python-level
    scatter per element), sort the ids so equal ones are adjacent and sum each run of equal
    ids with `np.add.reduceat`: about 4x faster.
    """

    @staticmethod
    def forward(ctx, ids, weight):
        ctx.save_for_backward(ids)
        ctx.weight_shape = weight.shape
        return weight[ids]

    @staticmethod
    def backward(ctx, grad):                    # grad: (..., C), the shape of the output
        # BEGIN EXERCISE embedding_backward: add grad's row i into weight's row ids[i]; repeats sum
        (ids,) = ctx.saved_tensors
        flat_ids = ids.reshape(-1)
        grad_rows = grad.reshape(len(flat_ids), -1)
        order = np.argsort(flat_ids, kind="stable")
        sorted_ids = flat_ids[order]
        run_starts = np.flatnonzero(np.diff(sorted_ids, prepend=-1))   # first of each run
        grad_weight = np.zeros(ctx.weight_shape, grad.dtype)
        grad_weight[sorted_ids[run_starts]] = np.add.reduceat(grad_rows[order], run_starts, axis=0)
        return None, grad_weight
        # END EXERCISE embedding_backward
