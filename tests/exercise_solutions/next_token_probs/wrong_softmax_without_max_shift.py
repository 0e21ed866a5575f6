# its own softmax without the max shift: e^x overflows for large logits
scaled = logits.astype(np.float64) / temperature
if top_k is not None:
    scaled = top_k_filter(scaled, int(top_k))
if top_p is not None:
    scaled = top_p_filter(scaled, top_p)
exps = np.exp(scaled)
return exps / exps.sum(axis=-1, keepdims=True)
