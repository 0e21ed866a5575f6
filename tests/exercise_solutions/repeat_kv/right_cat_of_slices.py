heads = [x[..., j:j + 1, :, :] for j in range(x.shape[-3]) for _ in range(n_rep)]
return cat(heads, dim=-3)
