# Forgets the final factor rstd = 1 / sqrt(mean(x^2) + eps).
gh = grad if weight is None else grad * weight
return gh - xhat * (gh * xhat).mean(axis=1, keepdims=True)
