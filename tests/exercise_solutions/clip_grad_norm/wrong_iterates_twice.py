# walks `parameters` twice: a generator is empty the second time
total = math.sqrt(sum(float((p.grad * p.grad).sum()) for p in parameters
                      if p.grad is not None))
if total > max_norm:
    for p in parameters:
        if p.grad is not None:
            p.grad *= max_norm / (total + 1e-6)
return total
