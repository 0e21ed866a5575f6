# counts the stretched axes from the left of grad, not from where shape starts
extra = grad.ndim - len(shape)
stretched = [i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1]
axes = tuple(range(extra)) + tuple(stretched)
if axes:
    grad = grad.sum(axis=tuple(sorted(set(axes))), keepdims=True)
return grad.reshape(shape)
