# drops a token once the mass up to and including it passes p: one token too few
order = np.argsort(-logits, axis=-1, kind="stable")
sorted_logits = np.take_along_axis(logits, order, axis=-1)
probs = softmax(sorted_logits)
drop_sorted = np.cumsum(probs, axis=-1) > p
drop_sorted[..., 0] = False
drop = np.empty_like(drop_sorted)
np.put_along_axis(drop, order, drop_sorted, axis=-1)
return np.where(drop, -np.inf, logits)
