# counts how often each id occurs instead of adding its gradients
(ids,) = ctx.saved_tensors
counts = np.bincount(ids.reshape(-1), minlength=ctx.weight_shape[0]).astype(grad.dtype)
return None, np.repeat(counts[:, None], ctx.weight_shape[1], axis=1) * grad.mean()
