# uses dL/dy as if it were dL/dxhat
mean_grad = grad.mean(axis=1, keepdims=True)
mean_grad_xhat = (grad * xhat).mean(axis=1, keepdims=True)
return rstd[:, None] * (grad - mean_grad - xhat * mean_grad_xhat)
