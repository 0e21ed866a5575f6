gh = grad if weight is None else grad * weight
n_features = xhat.shape[1]
projection = (gh * xhat).sum(axis=1, keepdims=True) / n_features
return rstd[:, None] * (gh - xhat * projection)
