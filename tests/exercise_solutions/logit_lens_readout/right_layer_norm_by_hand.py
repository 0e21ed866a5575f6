# the final layer norm written out in NumPy, with the model's epsilon, weight and bias
ln_f = model.transformer.ln_f
eps = model.config.layer_norm_epsilon
mean = streams.mean(axis=-1, keepdims=True)
variance = ((streams - mean) ** 2).mean(axis=-1, keepdims=True)
normed = (streams - mean) / np.sqrt(variance + eps)
normed = normed * ln_f.weight.data
if ln_f.bias is not None:
    normed = normed + ln_f.bias.data
return (normed @ model.transformer.wte.weight.data.T).astype(streams.dtype, copy=False)
