# forgets the transposes
a, b = ctx.saved_tensors
return grad @ b, a @ grad
