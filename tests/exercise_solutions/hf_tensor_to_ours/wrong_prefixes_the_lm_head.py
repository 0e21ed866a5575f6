# puts "transformer." in front of lm_head.weight too
if MASK_BUFFER.search(key):
    return None
name = key if key.startswith("transformer.") else "transformer." + key
return name, (array.T if name.endswith(CONV1D_WEIGHTS) else array)
