# as IEEE half precision: 5 exponent bits, not 8
return words.view(np.float16).astype(np.float32)
