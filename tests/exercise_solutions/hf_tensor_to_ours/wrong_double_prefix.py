# adds the prefix even when it is there
if MASK_BUFFER.search(key):
    return None
name = key if key.startswith("lm_head.") else "transformer." + key
return name, (array.T if name.endswith(CONV1D_WEIGHTS) else array)
