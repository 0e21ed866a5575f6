# means over the rows (axis 0) instead of within each row
grad_xhat = grad * weight if weight is not None else grad
mean_grad = grad_xhat.mean(axis=0, keepdims=True)
mean_grad_xhat = (grad_xhat * xhat).mean(axis=0, keepdims=True)
return rstd[:, None] * (grad_xhat - mean_grad - xhat * mean_grad_xhat)
