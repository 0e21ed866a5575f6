# each gradient with the other one's formula
a, b = ctx.saved_tensors
return a.swapaxes(-1, -2) @ grad, grad @ b.swapaxes(-1, -2)
