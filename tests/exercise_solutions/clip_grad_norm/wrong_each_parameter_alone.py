# clips each gradient by its own norm
norms = []
for p in parameters:
    if p.grad is None:
        continue
    norm = math.sqrt(float((p.grad * p.grad).sum()))
    norms.append(norm)
    if norm > max_norm:
        p.grad *= max_norm / (norm + 1e-6)
return math.sqrt(sum(n * n for n in norms))
