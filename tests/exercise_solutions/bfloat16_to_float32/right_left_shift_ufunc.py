# the shift and the widening in one ufunc call, then the bits read as float32
out = np.left_shift(words, 16, dtype=np.uint32)
return out.view(np.float32)
