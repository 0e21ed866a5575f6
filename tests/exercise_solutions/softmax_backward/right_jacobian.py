# the Jacobian ds_j/dx_i = s_i (delta_ij - s_j), applied along the softmax axis
(probs,) = ctx.saved_tensors
s = np.moveaxis(probs, ctx.dim, -1)
g = np.moveaxis(grad, ctx.dim, -1)
jacobian = s[..., :, None] * (np.eye(s.shape[-1]) - s[..., None, :])
grad_x = np.einsum("...ij,...j->...i", jacobian, g)
return np.moveaxis(grad_x, -1, ctx.dim), None
