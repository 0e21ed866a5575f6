# softmax without subtracting the row max: e^x overflows for large scores
scores = (q * scale) @ k.transpose(-2, -1)
if is_causal:
    scores = scores.masked_fill(causal_mask(q.shape[-2], k.shape[-2]), float("-inf"))
exps = scores.exp()
weights = exps / exps.sum(dim=-1, keepdim=True)
weights = dropout(weights, dropout_p, training=dropout_p > 0.0, generator=generator)
return weights @ v
