# overwrites what forward saved: a second backward gets other numbers
(probs,) = ctx.saved_tensors
weighted = np.sum(grad * probs, axis=ctx.dim, keepdims=True)
probs *= grad - weighted
return probs, None
