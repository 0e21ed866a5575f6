# accepts with probability min(1, q / p)
if generator.random() * p[token] < q[token]:
    return True, int(token)
residual = np.maximum(p - q, 0.0)
return False, int(draw(residual[None], generator)[0])
