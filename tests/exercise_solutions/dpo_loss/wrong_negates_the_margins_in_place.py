# saves a copy by negating margins in place: the caller's margins are changed
np.negative(margins, out=margins)
losses = np.logaddexp(0.0, margins)
slopes = -np.exp(-np.logaddexp(0.0, -margins))
return losses, slopes
