# a sign slip: 1 + t^2
(out,) = ctx.saved_tensors
return grad * (1.0 + out * out)
