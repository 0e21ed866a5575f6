# all gradients as one long vector
import numpy as np  # nn/utils.py itself does not import it

with_grad = [p for p in parameters if p.grad is not None]
if not with_grad:
    return 0.0
flat = np.concatenate([p.grad.astype(np.float64).ravel() for p in with_grad])
total = float(np.linalg.norm(flat))
if total > max_norm:
    scale = float(max_norm / (total + 1e-6))
    for p in with_grad:
        p.grad = p.grad * scale
return total
