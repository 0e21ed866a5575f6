# without a weight, works in place on the gradient it was given
grad_xhat = grad * weight if weight is not None else grad
mean_grad = grad_xhat.mean(axis=1, keepdims=True)
mean_grad_xhat = (grad_xhat * xhat).mean(axis=1, keepdims=True)
grad_xhat -= mean_grad
grad_xhat -= xhat * mean_grad_xhat
grad_xhat *= rstd[:, None]
return grad_xhat
