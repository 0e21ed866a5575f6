# 1 - t^2 = (1 - t)(1 + t)
(tanh_x,) = ctx.saved_tensors
return grad * (1.0 - tanh_x) * (1.0 + tanh_x)
