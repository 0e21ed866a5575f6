# returns the kept logits in sorted order, not where they were
order = np.argsort(-logits, axis=-1, kind="stable")
sorted_logits = np.take_along_axis(logits, order, axis=-1)
probs = softmax(sorted_logits)
drop = np.cumsum(probs, axis=-1) - probs >= p
return np.where(drop, -np.inf, sorted_logits)
