# float32 logits give float32 probabilities
scaled = logits / temperature
if top_k is not None:
    scaled = top_k_filter(scaled, int(top_k))
if top_p is not None:
    scaled = top_p_filter(scaled, top_p)
return softmax(scaled)
