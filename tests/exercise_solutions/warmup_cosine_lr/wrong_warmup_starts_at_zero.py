# the first step's rate is 0
if it < warmup_iters:
    return max_lr * it / warmup_iters
if it > decay_iters or decay_iters == warmup_iters:
    return min_lr
ratio = (it - warmup_iters) / (decay_iters - warmup_iters)
return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (max_lr - min_lr)
