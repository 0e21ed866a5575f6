# a whole cosine period: back to max_lr at decay_iters
if it < warmup_iters:
    return max_lr * (it + 1) / (warmup_iters + 1)
if it > decay_iters or decay_iters == warmup_iters:
    return min_lr
ratio = (it - warmup_iters) / (decay_iters - warmup_iters)
return min_lr + 0.5 * (1.0 + math.cos(2.0 * math.pi * ratio)) * (max_lr - min_lr)
