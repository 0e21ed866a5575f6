# as if the incoming gradient were always 1
probs, valid, target = ctx.saved_tensors
grad_logits = probs.copy()
grad_logits[np.arange(len(target)), target] -= 1.0
scale = 1.0 / ctx.count if ctx.reduction == "mean" else 1.0
return grad_logits * (valid * scale)[:, None], None, None, None
