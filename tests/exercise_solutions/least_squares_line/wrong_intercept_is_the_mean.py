# forgets a * mean(f) in the intercept
centred = features - features.mean(axis=1, keepdims=True)
spread = np.sum(centred ** 2, axis=1)
with np.errstate(divide="ignore", invalid="ignore"):
    a = np.where(spread > 0, centred @ (losses - losses.mean()) / spread, 0.0)
return a, np.full(len(a), losses.mean())
