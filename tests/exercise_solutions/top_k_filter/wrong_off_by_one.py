# keeps k + 1 tokens
if k >= logits.shape[-1]:
    return logits
kth_largest = np.sort(logits, axis=-1)[..., -k - 1, None]
return np.where(logits < kth_largest, -np.inf, logits)
