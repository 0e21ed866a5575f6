# adds Adam's L2 term into the caller's gradient
if decoupled:
    param *= 1.0 - lr * weight_decay
elif weight_decay != 0.0:
    grad += weight_decay * param
m[...] = beta1 * m + (1.0 - beta1) * grad
v[...] = beta2 * v + (1.0 - beta2) * grad * grad
denom = np.sqrt(v) / np.sqrt(1.0 - beta2 ** step) + eps
param -= lr / (1.0 - beta1 ** step) * m / denom
