# forgets alpha / r
base = self.base
merged = nn.Linear(base.in_features, base.out_features, bias=base.bias is not None,
                   dtype=base.weight.dtype)
merged.weight.data = base.weight.data + self.lora_B.data @ self.lora_A.data
merged.weight.requires_grad = base.weight.requires_grad
if base.bias is not None:
    merged.bias.data = base.bias.data.copy()
    merged.bias.requires_grad = base.bias.requires_grad
merged.train(self.training)
return merged
