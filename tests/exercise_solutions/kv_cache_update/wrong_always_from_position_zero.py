# writes every step at the start of the cache
if k.requires_grad or v.requires_grad:
    raise RuntimeError("the KV cache is for generation: run it under tt.no_grad()")
end = self.length + k.shape[2]
if end > self.max_length:
    raise ValueError(f"the KV cache holds {self.max_length} positions; {end} do not fit")
self.keys[layer, :, :, :k.shape[2]] = k.data
self.values[layer, :, :, :v.shape[2]] = v.data
return tt.Tensor(self.keys[layer, :, :, :end]), tt.Tensor(self.values[layer, :, :, :end])
