# any mismatch: sum it all
if grad.shape == tuple(shape):
    return grad
return np.full(shape, grad.sum())
