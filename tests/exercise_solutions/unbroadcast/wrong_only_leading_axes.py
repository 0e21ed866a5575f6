# forgets the stretched axes
while grad.ndim > len(shape):
    grad = grad.sum(axis=0)
return grad
