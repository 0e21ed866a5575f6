# one row at a time: most likely first, keep while the tokens above hold less than p
filtered = np.full_like(logits, -np.inf)
for row in range(logits.shape[0]):
    scores = logits[row]
    exps = np.exp(scores - scores.max())
    probs = exps / exps.sum()
    mass = 0.0
    for token in np.argsort(-scores, kind="stable"):
        if mass >= p:
            break
        filtered[row, token] = scores[token]
        mass += probs[token]
return filtered
