# drops out the output instead of the attention weights
scores = (q * scale) @ k.transpose(-2, -1)
if is_causal:
    scores = scores.masked_fill(causal_mask(q.shape[-2], k.shape[-2]), float("-inf"))
out = softmax(scores, dim=-1) @ v
return dropout(out, dropout_p, training=dropout_p > 0.0, generator=generator)
