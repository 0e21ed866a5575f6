# keeps Conv1D's (in, out) layout
if MASK_BUFFER.search(key):
    return None
name = key if key.startswith(("transformer.", "lm_head.")) else "transformer." + key
return name, array
