# 1 - t instead of 1 - t^2
(out,) = ctx.saved_tensors
return grad * (1.0 - out)
