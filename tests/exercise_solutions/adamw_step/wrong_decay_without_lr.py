# decays by weight_decay alone, not lr * weight_decay
if decoupled:
    param *= 1.0 - weight_decay
elif weight_decay != 0.0:
    grad = grad + weight_decay * param
m[...] = beta1 * m + (1.0 - beta1) * grad
v[...] = beta2 * v + (1.0 - beta2) * grad * grad
denom = np.sqrt(v) / np.sqrt(1.0 - beta2 ** step) + eps
param -= lr / (1.0 - beta1 ** step) * m / denom
