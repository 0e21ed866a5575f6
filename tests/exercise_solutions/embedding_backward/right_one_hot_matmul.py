# as a matrix product: one_hot(ids)^T @ grad rows
(ids,) = ctx.saved_tensors
flat_ids = ids.reshape(-1)
one_hot = np.zeros((len(flat_ids), ctx.weight_shape[0]), grad.dtype)
one_hot[np.arange(len(flat_ids)), flat_ids] = 1.0
return None, one_hot.T @ grad.reshape(len(flat_ids), -1)
