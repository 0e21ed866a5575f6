# divides by D, not sqrt(D): the scale squared
scores = (q * (scale * scale)) @ k.transpose(-2, -1)     # 1/D
if is_causal:
    scores = scores.masked_fill(causal_mask(q.shape[-2], k.shape[-2]), float("-inf"))
weights = softmax(scores, dim=-1)
weights = dropout(weights, dropout_p, training=dropout_p > 0.0, generator=generator)
return weights @ v
