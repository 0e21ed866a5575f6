# the loss is stable, but e^m overflows in the slope for a large margin (a warning, and inf)
losses = np.logaddexp(0.0, -margins)
slopes = -1.0 / (1.0 + np.exp(margins))
return losses, slopes
