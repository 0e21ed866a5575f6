# -sigmoid(m) instead of -sigmoid(-m): right only at a margin of 0
losses = np.logaddexp(0.0, -margins)
slopes = -np.exp(-np.logaddexp(0.0, -margins))
return losses, slopes
