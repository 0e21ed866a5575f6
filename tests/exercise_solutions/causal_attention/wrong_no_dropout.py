# forgets the dropout on the attention weights
scores = (q * scale) @ k.transpose(-2, -1)
if is_causal:
    scores = scores.masked_fill(causal_mask(q.shape[-2], k.shape[-2]), float("-inf"))
return softmax(scores, dim=-1) @ v
