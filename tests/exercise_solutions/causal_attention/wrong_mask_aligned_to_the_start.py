# PyTorch's alignment: with fewer queries than keys (a KV cache) the newest see too little
scores = (q * scale) @ k.transpose(-2, -1)
if is_causal:
    mask = np.triu(np.ones((q.shape[-2], k.shape[-2]), dtype=bool), k=1)
    scores = scores.masked_fill(mask, float("-inf"))
weights = softmax(scores, dim=-1)
weights = dropout(weights, dropout_p, training=dropout_p > 0.0, generator=generator)
return weights @ v
