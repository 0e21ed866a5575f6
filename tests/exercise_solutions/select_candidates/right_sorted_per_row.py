# a Python sort per row of (-score, flat index): the lower index wins a tie
B, K, V = log_probs.shape
totals = beam_scores[:, :, None] + log_probs
scores = np.empty((B, n_candidates), totals.dtype)
beams = np.empty((B, n_candidates), np.int64)
tokens = np.empty((B, n_candidates), np.int64)
for b in range(B):
    flat = totals[b].ravel()
    order = sorted(range(K * V), key=lambda i: (-flat[i], i))[:n_candidates]
    scores[b] = flat[order]
    beams[b], tokens[b] = np.divmod(order, V)
return scores, beams, tokens
