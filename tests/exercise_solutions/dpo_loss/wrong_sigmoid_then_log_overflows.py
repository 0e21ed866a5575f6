# the formula as written: e^-m overflows for a margin of -100 in float32, -800 in float64
losses = -np.log(1.0 / (1.0 + np.exp(-margins)))
slopes = -1.0 / (1.0 + np.exp(margins))
return losses, slopes
