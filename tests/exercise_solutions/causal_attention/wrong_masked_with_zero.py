# a masked score of 0 still gets weight: e^0 = 1
scores = (q * scale) @ k.transpose(-2, -1)
if is_causal:
    scores = scores.masked_fill(causal_mask(q.shape[-2], k.shape[-2]), 0.0)
weights = softmax(scores, dim=-1)
weights = dropout(weights, dropout_p, training=dropout_p > 0.0, generator=generator)
return weights @ v
