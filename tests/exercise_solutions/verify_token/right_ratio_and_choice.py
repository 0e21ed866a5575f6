# the ratio written out, and the replacement drawn with Generator.choice
accept_probability = min(1.0, p[token] / q[token])
if generator.random() < accept_probability:
    return True, int(token)
residual = np.clip(p - q, 0.0, None)
total = residual.sum()
if total <= 0:
    residual, total = p, p.sum()
return False, int(generator.choice(len(p), p=residual / total))
