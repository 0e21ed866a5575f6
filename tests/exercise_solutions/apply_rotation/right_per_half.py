half = x.shape[-1] // 2
x1, x2 = x[..., :half], x[..., half:]
first = x1 * cos[..., :half] - x2 * sin[..., :half]
second = x2 * cos[..., half:] + x1 * sin[..., half:]
return np.concatenate([first, second], axis=-1)
