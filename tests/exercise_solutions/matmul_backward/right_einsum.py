# index notation: out[n, m] = sum_k a[n, k] b[k, m]; 1-D operands lifted to matrices first
import numpy as np  # matmul.py itself does not import it

a, b = ctx.saved_tensors
a2 = a[None, :] if a.ndim == 1 else a          # (..., n, k)
b2 = b[:, None] if b.ndim == 1 else b          # (..., k, m)
g = grad
if b.ndim == 1:
    g = g[..., None]
if a.ndim == 1:
    g = g[..., None, :]                        # (..., n, m)
grad_a = np.einsum("...nm,...km->...nk", g, b2)
grad_b = np.einsum("...nk,...nm->...km", a2, g)
if a.ndim == 1:
    grad_a = grad_a[..., 0, :]
if b.ndim == 1:
    grad_b = grad_b[..., 0]
return grad_a, grad_b
