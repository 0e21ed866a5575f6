# the normal equations without centring: right in exact arithmetic, but the digits go
n = features.shape[1]
sum_f, sum_l = features.sum(axis=1), losses.sum()
sum_ff, sum_fl = (features * features).sum(axis=1), features @ losses
denominator = n * sum_ff - sum_f ** 2
with np.errstate(divide="ignore", invalid="ignore"):
    a = np.where(denominator != 0, (n * sum_fl - sum_f * sum_l) / denominator, 0.0)
c = (sum_l - a * sum_f) / n
return a, c
