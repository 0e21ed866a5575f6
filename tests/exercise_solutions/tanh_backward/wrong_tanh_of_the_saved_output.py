# treats the saved output as if it were x
(out,) = ctx.saved_tensors
return grad * (1.0 - np.tanh(out) ** 2)
