# adds the parameters' norms instead of their squares
grads = [p.grad for p in parameters if p.grad is not None]
total = sum(math.sqrt(float((g * g).sum())) for g in grads)
if total > max_norm:
    for g in grads:
        g *= max_norm / (total + 1e-6)
return total
