# computes on .data in NumPy: right numbers, but no graph, so no gradients
scores = q.data @ k.data.swapaxes(-1, -2) * scale
if is_causal:
    scores = np.where(causal_mask(q.shape[-2], k.shape[-2]), -np.inf, scores)
scores = scores - scores.max(axis=-1, keepdims=True)
weights = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
if dropout_p > 0.0:
    weights = weights * keep_mask(weights.shape, dropout_p, generator) / (1.0 - dropout_p)
return tensor(weights @ v.data)
