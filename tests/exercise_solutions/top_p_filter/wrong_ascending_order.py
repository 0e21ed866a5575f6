# adds up the least likely tokens first
order = np.argsort(logits, axis=-1, kind="stable")
sorted_logits = np.take_along_axis(logits, order, axis=-1)
probs = softmax(sorted_logits)
drop_sorted = np.cumsum(probs, axis=-1) - probs >= p
drop = np.empty_like(drop_sorted)
np.put_along_axis(drop, order, drop_sorted, axis=-1)
return np.where(drop, -np.inf, logits)
