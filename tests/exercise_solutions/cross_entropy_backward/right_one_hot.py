# p - one_hot(target), rows scaled by the incoming gradient; ignored rows times 0
probs, valid, target = ctx.saved_tensors
one_hot = np.eye(probs.shape[1], dtype=probs.dtype)[target]
if ctx.reduction == "none":
    scale = np.asarray(grad, probs.dtype) * valid
elif ctx.reduction == "sum":
    scale = np.where(valid, float(grad), 0.0).astype(probs.dtype)
else:
    scale = np.where(valid, float(grad) / ctx.count, 0.0).astype(probs.dtype)
return (probs - one_hot) * scale[:, None], None, None, None
