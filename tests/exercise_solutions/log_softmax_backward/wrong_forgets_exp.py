# uses the saved log-probabilities as if they were probabilities
(log_probs,) = ctx.saved_tensors
return grad - log_probs * np.sum(grad, axis=ctx.dim, keepdims=True), None
