# sorts every row by the first row's order
order = np.argsort(-logits[0], kind="stable")
sorted_logits = logits[:, order]
probs = softmax(sorted_logits)
mass_before = np.cumsum(probs, axis=-1) - probs
drop = np.empty(logits.shape, dtype=bool)
drop[:, order] = mass_before >= p
return np.where(drop, -np.inf, logits)
