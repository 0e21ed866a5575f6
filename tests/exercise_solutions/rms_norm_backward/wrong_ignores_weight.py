# Forgets that dL/dxhat = g * weight.
mean_g_xhat = (grad * xhat).mean(axis=1, keepdims=True)
return rstd[:, None] * (grad - xhat * mean_g_xhat)
