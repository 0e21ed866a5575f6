# no check of the room left: NumPy's broadcasting error says nothing of max_length
if k.requires_grad or v.requires_grad:
    raise RuntimeError("the KV cache is for generation: run it under tt.no_grad()")
start, end = self.length, self.length + k.shape[2]
self.keys[layer, :, :, start:end] = k.data
self.values[layer, :, :, start:end] = v.data
return tt.Tensor(self.keys[layer, :, :, :end]), tt.Tensor(self.values[layer, :, :, :end])
