return grad_product * up * silu_slope, grad_product * act
