# log(1 + e^-m) = max(-m, 0) + log(1 + e^-|m|): e^-|m| <= 1 never overflows
small = np.exp(-np.abs(margins))                     # e^-|m|, in (0, 1]
losses = np.maximum(-margins, 0.0) + np.log1p(small)
# -sigmoid(-m) = -1 / (1 + e^m): -e^-m / (1 + e^-m) for m >= 0, -1 / (1 + e^m) for m < 0
slopes = np.where(margins >= 0, -small / (1.0 + small), -1.0 / (1.0 + small))
return losses, slopes
