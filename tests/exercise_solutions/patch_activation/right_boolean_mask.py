# a mask that is True where the clean values go, then np.where
T = corrupted.shape[-2]
at = np.zeros(T, dtype=bool)
at[np.asarray(list(positions), dtype=np.int64)] = True
mask = np.zeros(corrupted.shape, dtype=bool)
if head is None:
    mask[..., at, :] = True
else:
    mask[:, head, at, :] = True
return np.where(mask, clean, corrupted).astype(corrupted.dtype, copy=False)
