# the shift done in 16 bits pushes every bit out before the widening
return (words << 16).astype(np.uint32).view(np.float32)
