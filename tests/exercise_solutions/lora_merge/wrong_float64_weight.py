# a float64 correction makes a float32 layer's weight float64
base = self.base
delta = (np.float64(self.alpha) / self.rank) * (self.lora_B.data @ self.lora_A.data)
merged = nn.Linear(base.in_features, base.out_features, bias=base.bias is not None,
                   dtype=base.weight.dtype)
merged.weight.data = base.weight.data + delta
merged.weight.requires_grad = base.weight.requires_grad
if base.bias is not None:
    merged.bias.data = base.bias.data.copy()
    merged.bias.requires_grad = base.bias.requires_grad
merged.train(self.training)
return merged
