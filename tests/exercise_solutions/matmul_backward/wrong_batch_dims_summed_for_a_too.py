# sums grad_a over the batch as if a were the shared weight
import numpy as np

a, b = ctx.saved_tensors
if a.ndim == 1 or b.ndim == 1:
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g = grad[..., None] if b.ndim == 1 else grad
    g = g[..., None, :] if a.ndim == 1 else g
    grad_a, grad_b = g @ b2.swapaxes(-1, -2), a2.swapaxes(-1, -2) @ g
    if a.ndim == 1:
        grad_a = grad_a[..., 0, :]
    if b.ndim == 1:
        grad_b = grad_b[..., 0]
    return grad_a, grad_b
grad_a = grad @ b.swapaxes(-1, -2)
if grad_a.ndim > 2:
    grad_a = np.broadcast_to(grad_a.sum(axis=0), grad_a.shape)
return grad_a, a.swapaxes(-1, -2) @ grad
