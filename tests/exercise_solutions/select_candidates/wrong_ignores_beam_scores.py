# ranks the new token's log-probability alone, forgetting each beam's sum so far
B, K, V = log_probs.shape
totals = log_probs.reshape(B, K * V)
best = np.argsort(-totals, axis=1, kind="stable")[:, :n_candidates]
return np.take_along_axis(totals, best, axis=1), best // V, best % V
