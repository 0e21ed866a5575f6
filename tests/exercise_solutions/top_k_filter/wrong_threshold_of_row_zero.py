# the k-th largest of the first row used for every row
if k >= logits.shape[-1]:
    return logits
kth_largest = np.sort(logits[0])[-k]
return np.where(logits < kth_largest, -np.inf, logits)
