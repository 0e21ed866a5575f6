# the position lengths[b], one past the last real token (padding, or past the end)
B, T = hidden.shape[:2]
last = np.full(B, T - 1) if lengths is None else np.minimum(np.asarray(lengths), T - 1)
return hidden[np.arange(B), last]
