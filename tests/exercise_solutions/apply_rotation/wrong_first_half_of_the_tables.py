# Assumes both halves of cos and sin are equal and reads only the first.
half = x.shape[-1] // 2
c, s = cos[..., :half], sin[..., :half]
out = x * cos
out[..., :half] = x[..., :half] * c - x[..., half:] * s
out[..., half:] = x[..., half:] * c + x[..., :half] * s
return out
