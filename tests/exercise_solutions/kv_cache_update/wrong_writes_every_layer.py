# writes the new keys and values into every layer
if k.requires_grad or v.requires_grad:
    raise RuntimeError("the KV cache is for generation: run it under tt.no_grad()")
start, end = self.length, self.length + k.shape[2]
if end > self.max_length:
    raise ValueError(f"the KV cache holds {self.max_length} positions; {end} do not fit")
self.keys[:, :, :, start:end] = k.data
self.values[:, :, :, start:end] = v.data
return tt.Tensor(self.keys[layer, :, :, :end]), tt.Tensor(self.values[layer, :, :, :end])
