# a straight line down instead of half a cosine
if it < warmup_iters:
    return max_lr * (it + 1) / (warmup_iters + 1)
if it > decay_iters or decay_iters == warmup_iters:
    return min_lr
ratio = (it - warmup_iters) / (decay_iters - warmup_iters)
return max_lr - ratio * (max_lr - min_lr)
