# squares t in place: the caller's t is gone
du_dx = GELU_C * (1.0 + 3.0 * GELU_A * x * x)
first = 0.5 * (1.0 + t)
t *= t
return first + 0.5 * x * (1.0 - t) * du_dx
