# log sigmoid(m) itself: the loss must be its negative
losses = -np.logaddexp(0.0, -margins)
slopes = -np.exp(-np.logaddexp(0.0, margins))
return losses, slopes
