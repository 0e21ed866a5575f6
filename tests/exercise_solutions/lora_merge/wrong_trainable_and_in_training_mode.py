# a new Linear as it comes: trainable and in training mode, whatever the base was
base = self.base
merged = nn.Linear(base.in_features, base.out_features, bias=base.bias is not None,
                   dtype=base.weight.dtype)
merged.weight.data = base.weight.data + self.delta_weight()
if base.bias is not None:
    merged.bias.data = base.bias.data.copy()
return merged
