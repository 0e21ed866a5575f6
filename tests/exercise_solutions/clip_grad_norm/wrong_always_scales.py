# scales even when the norm is already below max_norm
grads = [p.grad for p in parameters if p.grad is not None]
total = math.sqrt(sum(float((g * g).sum()) for g in grads))
for g in grads:
    g *= max_norm / (total + 1e-6)
return total
