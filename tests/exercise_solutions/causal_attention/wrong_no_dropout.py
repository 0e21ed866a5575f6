# forgets the dropout on the attention weights
scores = (q * (1.0 / math.sqrt(q.shape[-1]))) @ k.transpose(-2, -1)
if is_causal:
    scores = scores.masked_fill(causal_mask(q.shape[-2], k.shape[-2]), float("-inf"))
return softmax(scores, dim=-1) @ v
