# Writes the result into x itself: the caller's input (and what backward sees) changes.
half = x.shape[-1] // 2
first, second = x[..., :half].copy(), x[..., half:].copy()
x *= cos
x[..., :half] -= second * sin[..., :half]
x[..., half:] += first * sin[..., half:]
return x
