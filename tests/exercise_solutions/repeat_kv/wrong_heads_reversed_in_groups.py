# Each group of copies in the right place, but the key/value heads in reverse order.
*lead, n_kv_heads, length, head_size = x.shape
flipped = cat([x[..., j:j + 1, :, :] for j in reversed(range(n_kv_heads))], dim=-3)
repeated = flipped.unsqueeze(-3).expand(*lead, n_kv_heads, n_rep, length, head_size)
return repeated.reshape(*lead, n_kv_heads * n_rep, length, head_size)
