# subtracts the one-hot from the saved probabilities themselves
probs, valid, target = ctx.saved_tensors
probs[np.arange(len(target)), target] -= 1.0
if ctx.reduction == "none":
    row_scale = grad * valid
else:
    scale = float(grad) / ctx.count if ctx.reduction == "mean" else float(grad)
    row_scale = valid * scale
return probs * row_scale[:, None], None, None, None
