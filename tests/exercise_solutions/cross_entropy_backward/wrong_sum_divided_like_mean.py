# divides by the count for reduction "sum" too
probs, valid, target = ctx.saved_tensors
grad_logits = probs.copy()
grad_logits[np.arange(len(target)), target] -= 1.0
if ctx.reduction == "none":
    row_scale = grad * valid
else:
    row_scale = valid * (float(grad) / ctx.count)
return grad_logits * row_scale[:, None], None, None, None
