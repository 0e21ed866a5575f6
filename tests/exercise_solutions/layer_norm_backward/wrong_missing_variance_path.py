# forgets the path through the variance (the xhat term)
grad_xhat = grad * weight if weight is not None else grad
return rstd[:, None] * (grad_xhat - grad_xhat.mean(axis=1, keepdims=True))
