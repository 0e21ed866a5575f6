# NumPy converts the numbers, not the bits: word 0x3F80 becomes 16256.0, not 1.0
return words.astype(np.float32)
