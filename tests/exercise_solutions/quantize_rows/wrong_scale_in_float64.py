# right codes, but the scales stay float64 (and float32 models would turn float64)
scale = np.abs(weight.astype(np.float64)).max(axis=1) / 127.0
safe = np.where(scale > 0, scale, 1.0)
q = np.clip(np.rint(weight / safe[:, None]), -127, 127).astype(np.int8)
return q, scale
