# the checks first, then write and return copies of what is stored so far
if k.requires_grad or v.requires_grad:
    raise RuntimeError("the KV cache takes no tensors that build a graph: use tt.no_grad()")
n_new = k.shape[2]
if self.length + n_new > self.max_length:
    raise ValueError(f"{self.length + n_new} positions do not fit in max_length="
                     f"{self.max_length}")
positions = slice(self.length, self.length + n_new)
self.keys[layer][:, :, positions] = k.data
self.values[layer][:, :, positions] = v.data
filled = self.length + n_new
return (tt.Tensor(self.keys[layer, :, :, :filled].copy()),
        tt.Tensor(self.values[layer, :, :, :filled].copy()))
