# Repeats the whole block of heads (head h reads h % Hkv): PyTorch's repeat, not
# repeat_interleave.
*lead, n_kv_heads, length, head_size = x.shape
tiled = x.unsqueeze(-4).expand(*lead, n_rep, n_kv_heads, length, head_size)
return tiled.reshape(*lead, n_rep * n_kv_heads, length, head_size)
