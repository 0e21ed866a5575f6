# the correction with einsum, then explicit copies
base = self.base
delta = self.scaling * np.einsum("or,ri->oi", self.lora_B.data, self.lora_A.data)
merged = nn.Linear(base.in_features, base.out_features, bias=base.bias is not None,
                   dtype=base.weight.dtype)
merged.weight.data = np.array(base.weight.data + delta, dtype=base.weight.dtype, copy=True)
merged.weight.requires_grad = base.weight.requires_grad
if base.bias is not None:
    merged.bias.data = np.array(base.bias.data, copy=True)
    merged.bias.requires_grad = base.bias.requires_grad
merged.train(self.training)
return merged
