# forgets to subtract 1 at the target
probs, valid, target = ctx.saved_tensors
if ctx.reduction == "none":
    row_scale = grad * valid
else:
    scale = float(grad) / ctx.count if ctx.reduction == "mean" else float(grad)
    row_scale = valid * scale
return probs * row_scale[:, None], None, None, None
