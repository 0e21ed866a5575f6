# forgets the 1 / sqrt(var + eps) in front
grad_xhat = grad * weight if weight is not None else grad
mean_grad = grad_xhat.mean(axis=1, keepdims=True)
mean_grad_xhat = (grad_xhat * xhat).mean(axis=1, keepdims=True)
return grad_xhat - mean_grad - xhat * mean_grad_xhat
