# Each branch gets the other branch's factor.
return grad_product * act, grad_product * up * silu_slope
