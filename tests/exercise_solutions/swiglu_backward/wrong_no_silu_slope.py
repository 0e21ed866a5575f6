# Treats silu as the identity on the way back: no silu'(Z).
return grad_product * up, grad_product * act
