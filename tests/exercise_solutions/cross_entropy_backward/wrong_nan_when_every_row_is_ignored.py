# divides by the number of counted rows, 0 when all are ignored
probs, valid, target = ctx.saved_tensors
grad_logits = probs.copy()
grad_logits[np.arange(len(target)), target] -= 1.0
if ctx.reduction == "none":
    row_scale = grad * valid
else:
    scale = float(grad) / valid.sum() if ctx.reduction == "mean" else float(grad)
    row_scale = valid * scale
return grad_logits * row_scale[:, None], None, None, None
