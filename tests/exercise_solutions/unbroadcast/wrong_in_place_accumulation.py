# adds the leading slices into the first one in place: grad may be read-only, or shared
while grad.ndim > len(shape):
    for i in range(1, grad.shape[0]):
        grad[0] += grad[i]
    grad = grad[0]
for axis, size in enumerate(shape):
    if size == 1 and grad.shape[axis] != 1:
        grad = grad.sum(axis=axis, keepdims=True)
return grad.reshape(shape)
