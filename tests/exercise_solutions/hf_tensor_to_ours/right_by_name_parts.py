# split the key into its parts and decide from them
parts = key.split(".")
if parts[0] == "transformer":
    parts = parts[1:]
if len(parts) == 4 and parts[0] == "h" and parts[2] == "attn" and parts[3] in ("bias",
                                                                             "masked_bias"):
    return None
if parts[0] != "lm_head":
    parts = ["transformer"] + parts
name = ".".join(parts)
is_conv1d = parts[-1] == "weight" and parts[-2] in ("c_attn", "c_proj", "c_fc")
return name, (np.transpose(array) if is_conv1d else array)
