# the textbook form: bias-corrected m_hat and v_hat, eps added to sqrt(v_hat)
if decoupled:
    param *= 1.0 - lr * weight_decay
elif weight_decay != 0.0:
    grad = grad + weight_decay * param
m[...] = beta1 * m + (1.0 - beta1) * grad
v[...] = beta2 * v + (1.0 - beta2) * grad * grad
m_hat = m / (1.0 - beta1 ** step)
v_hat = v / (1.0 - beta2 ** step)
param -= lr * m_hat / (np.sqrt(v_hat) + eps)
