# one progress variable per phase
if it < warmup_iters:
    return max_lr * (it + 1) / (warmup_iters + 1)
if it >= decay_iters:
    return float(min_lr)
progress = (it - warmup_iters) / (decay_iters - warmup_iters)
cosine = math.cos(math.pi * progress)
return float(min_lr + (max_lr - min_lr) * (cosine + 1.0) / 2.0)
