# a NumPy float64 scale: p.grad * scale turns a float32 gradient into float64
import numpy as np  # nn/utils.py itself does not import it

params = [p for p in parameters if p.grad is not None]
total = np.sqrt(sum(np.sum(p.grad.astype(np.float64) ** 2) for p in params))
if total > max_norm:
    scale = max_norm / (total + 1e-6)
    for p in params:
        p.grad = p.grad * scale
return float(total)
