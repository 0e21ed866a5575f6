# dL/dZ is made in place first, so dL/dU is computed from it instead of from dL/dP.
grad_gate = grad_product
grad_gate *= up
grad_gate *= silu_slope
return grad_gate, grad_product * act
