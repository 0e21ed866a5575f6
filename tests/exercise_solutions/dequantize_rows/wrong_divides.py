# divides by the scale instead of multiplying
return q.astype(dtype) / scale.astype(dtype)[:, None]
