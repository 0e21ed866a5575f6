# layer norm by hand with GPT-2's epsilon, 1e-5, not the model's own
x = streams
normed = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
ln_f = model.transformer.ln_f
normed = normed * ln_f.weight.data
if ln_f.bias is not None:
    normed = normed + ln_f.bias.data
return (normed @ model.transformer.wte.weight.data.T).astype(streams.dtype)
