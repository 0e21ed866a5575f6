# scale with a multiplication, normalise with log-sum-exp
scaled = np.asarray(logits, dtype=np.float64) * (1.0 / temperature)
if top_k is not None:
    scaled = top_k_filter(scaled, int(top_k))
if top_p is not None:
    scaled = top_p_filter(scaled, top_p)
row_max = scaled.max(axis=-1, keepdims=True)
log_norm = row_max + np.log(np.exp(scaled - row_max).sum(axis=-1, keepdims=True))
return np.exp(scaled - log_norm)
