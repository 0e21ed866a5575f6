# no floor after decay_iters: the cosine comes back up
if it < warmup_iters:
    return max_lr * (it + 1) / (warmup_iters + 1)
if decay_iters == warmup_iters:
    return min_lr
ratio = (it - warmup_iters) / (decay_iters - warmup_iters)
return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (max_lr - min_lr)
