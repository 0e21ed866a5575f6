# the k smallest logits instead of the largest
if k >= logits.shape[-1]:
    return logits
kth_smallest = np.partition(logits, k - 1, axis=-1)[..., k - 1, None]
return np.where(logits > kth_smallest, -np.inf, logits)
