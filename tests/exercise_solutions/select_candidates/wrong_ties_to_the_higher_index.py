# sorts ascending and reverses: among equal scores the higher index comes first
B, K, V = log_probs.shape
totals = (beam_scores[:, :, None] + log_probs).reshape(B, K * V)
best = np.argsort(totals, axis=1, kind="stable")[:, ::-1][:, :n_candidates]
return np.take_along_axis(totals, best, axis=1), best // V, best % V
