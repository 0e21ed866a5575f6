# forgets the bias corrections: the first steps are far too small or too large
if decoupled:
    param *= 1.0 - lr * weight_decay
elif weight_decay != 0.0:
    grad = grad + weight_decay * param
m[...] = beta1 * m + (1.0 - beta1) * grad
v[...] = beta2 * v + (1.0 - beta2) * grad * grad
param -= lr * m / (np.sqrt(v) + eps)
