# one scale for the whole matrix: small rows lose their precision
largest = np.abs(weight).max()
scale = np.full(weight.shape[0], largest / 127.0, np.float32)
safe = scale if largest > 0 else np.ones_like(scale)
q = np.clip(np.rint(weight / safe[:, None]), -127, 127).astype(np.int8)
return q, scale
