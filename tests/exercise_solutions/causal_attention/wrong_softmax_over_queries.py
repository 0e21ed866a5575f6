# normalises over the queries (dim -2) instead of the keys
scores = (q * scale) @ k.transpose(-2, -1)
if is_causal:
    scores = scores.masked_fill(causal_mask(q.shape[-2], k.shape[-2]), float("-inf"))
weights = softmax(scores, dim=-2)
weights = dropout(weights, dropout_p, training=dropout_p > 0.0, generator=generator)
return weights @ v
