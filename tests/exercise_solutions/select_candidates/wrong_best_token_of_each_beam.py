# each beam's own best tokens, beam 0's first: a candidate of beam 1 can never outrank beam 0's
B, K, V = log_probs.shape
totals = beam_scores[:, :, None] + log_probs                                   # (B, K, V)
order = np.argsort(-totals, axis=2, kind="stable")                             # per beam
per_beam = (order + np.arange(K)[None, :, None] * V).reshape(B, K * V)
best = per_beam[:, :n_candidates]
flat = totals.reshape(B, K * V)
return np.take_along_axis(flat, best, axis=1), best // V, best % V
