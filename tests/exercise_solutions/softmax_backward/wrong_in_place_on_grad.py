# writes into the incoming gradient, which other inputs may share
(probs,) = ctx.saved_tensors
grad *= probs
grad -= probs * np.sum(grad, axis=ctx.dim, keepdims=True)
return grad, None
