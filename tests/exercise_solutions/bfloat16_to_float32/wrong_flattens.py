# the right bits, flattened: a (2, 3) matrix comes back as 6 numbers
return (words.astype(np.uint32).ravel() << 16).view(np.float32)
