# returns the norm after clipping
grads = [p.grad for p in parameters if p.grad is not None]
total = math.sqrt(sum(float((g * g).sum()) for g in grads))
if total > max_norm:
    for g in grads:
        g *= max_norm / (total + 1e-6)
    total = max_norm
return total
