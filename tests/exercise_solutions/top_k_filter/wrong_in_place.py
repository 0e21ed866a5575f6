# writes -inf into the caller's logits
if k >= logits.shape[-1]:
    return logits
kth_largest = np.partition(logits, -k, axis=-1)[..., -k, None]
logits[logits < kth_largest] = -np.inf
return logits
