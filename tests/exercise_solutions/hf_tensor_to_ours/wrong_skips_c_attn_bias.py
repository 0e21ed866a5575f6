# "ends with attn.bias" also matches c_attn.bias, a real parameter
if key.endswith(("attn.bias", "attn.masked_bias")):
    return None
name = key if key.startswith(("transformer.", "lm_head.")) else "transformer." + key
return name, (array.T if name.endswith(CONV1D_WEIGHTS) else array)
