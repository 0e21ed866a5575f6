# divides the probabilities by the temperature and renormalises: which changes nothing
scaled = logits.astype(np.float64)
if top_k is not None:
    scaled = top_k_filter(scaled, int(top_k))
if top_p is not None:
    scaled = top_p_filter(scaled, top_p)
probs = softmax(scaled) / temperature
return probs / probs.sum(axis=-1, keepdims=True)
