# the same formula with sums: rstd / D * (D gh - sum(gh) - xhat sum(gh xhat))
D = xhat.shape[1]
grad_xhat = grad if weight is None else grad * weight
sum_grad = grad_xhat.sum(axis=1, keepdims=True)
sum_grad_xhat = (grad_xhat * xhat).sum(axis=1, keepdims=True)
return (rstd[:, None] / D) * (D * grad_xhat - sum_grad - xhat * sum_grad_xhat)
