# transposes the attention's weights but forgets the MLP's
if MASK_BUFFER.search(key):
    return None
name = key if key.startswith(("transformer.", "lm_head.")) else "transformer." + key
return name, (array.T if name.endswith(("attn.c_attn.weight", "attn.c_proj.weight")) else array)
