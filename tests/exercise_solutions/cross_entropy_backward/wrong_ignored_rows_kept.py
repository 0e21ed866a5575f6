# the ignored rows still get p - onehot
probs, valid, target = ctx.saved_tensors
grad_logits = probs.copy()
grad_logits[np.arange(len(target)), target] -= 1.0
if ctx.reduction == "none":
    return grad_logits * grad[:, None], None, None, None
scale = float(grad) / ctx.count if ctx.reduction == "mean" else float(grad)
return grad_logits * scale, None, None, None
