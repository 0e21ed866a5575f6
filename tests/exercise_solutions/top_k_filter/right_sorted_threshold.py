# the k-th largest of each row from a full sort, then keep everything at least that large
if k >= logits.shape[-1]:
    return logits
threshold = np.sort(logits, axis=-1)[..., -k][..., None]
return np.where(logits >= threshold, logits, -np.inf)
