# sorts the incoming gradient's rows in place: the caller's grad is scrambled
(ids,) = ctx.saved_tensors
flat_ids = ids.reshape(-1)
grad_rows = grad.reshape(len(flat_ids), -1)
order = np.argsort(flat_ids, kind="stable")
grad_rows[...] = grad_rows[order]
sorted_ids = flat_ids[order]
run_starts = np.flatnonzero(np.diff(sorted_ids, prepend=-1))
grad_weight = np.zeros(ctx.weight_shape, grad.dtype)
grad_weight[sorted_ids[run_starts]] = np.add.reduceat(grad_rows, run_starts, axis=0)
return None, grad_weight
