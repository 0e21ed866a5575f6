# averages over the broadcast axes
extra = grad.ndim - len(shape)
stretched = [extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1]
axes = tuple(range(extra)) + tuple(stretched)
if axes:
    grad = grad.mean(axis=axes, keepdims=True)
return grad.reshape(shape)
