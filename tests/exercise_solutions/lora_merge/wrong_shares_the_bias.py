# hands the merged layer the base's own bias array
base = self.base
merged = nn.Linear(base.in_features, base.out_features, bias=base.bias is not None,
                   dtype=base.weight.dtype)
merged.weight.data = base.weight.data + self.delta_weight()
merged.weight.requires_grad = base.weight.requires_grad
if base.bias is not None:
    merged.bias.data = base.bias.data
    merged.bias.requires_grad = base.bias.requires_grad
merged.train(self.training)
return merged
