# decays towards 0, not towards min_lr
if it < warmup_iters:
    return max_lr * (it + 1) / (warmup_iters + 1)
if it > decay_iters or decay_iters == warmup_iters:
    return min_lr
ratio = (it - warmup_iters) / (decay_iters - warmup_iters)
return 0.5 * (1.0 + math.cos(math.pi * ratio)) * max_lr
