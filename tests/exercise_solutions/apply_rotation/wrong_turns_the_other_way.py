# rotate_half as [x2, -x1]: every pair turns by minus its angle.
half = x.shape[-1] // 2
out = x * cos
out[..., :half] += x[..., half:] * sin[..., :half]
out[..., half:] -= x[..., :half] * sin[..., half:]
return out
