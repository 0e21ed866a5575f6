# transposes every 2-D tensor, the embeddings too
if MASK_BUFFER.search(key):
    return None
name = key if key.startswith(("transformer.", "lm_head.")) else "transformer." + key
return name, (array.T if array.ndim == 2 else array)
