# .T reverses every axis, not just the last two: wrong for batches
a, b = ctx.saved_tensors
if a.ndim == 1 or b.ndim == 1:
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g = grad[..., None] if b.ndim == 1 else grad
    g = g[..., None, :] if a.ndim == 1 else g
    grad_a, grad_b = g @ b2.T, a2.T @ g
    if a.ndim == 1:
        grad_a = grad_a[..., 0, :]
    if b.ndim == 1:
        grad_b = grad_b[..., 0]
    return grad_a, grad_b
return grad @ b.T, a.T @ grad
