# matrices only: a 1-D operand has no last-two axes to swap
a, b = ctx.saved_tensors
return grad @ b.swapaxes(-1, -2), a.swapaxes(-1, -2) @ grad
