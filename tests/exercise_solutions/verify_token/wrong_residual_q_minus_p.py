# replaces a rejected token with what the draft has more of
if generator.random() * q[token] < p[token]:
    return True, int(token)
residual = np.maximum(q - p, 0.0)
return False, int(draw(residual[None], generator)[0])
