# the frozen part without its bias
frozen = ops.linear(x, self.base.weight)
return frozen + ops.linear(ops.linear(x, self.lora_A) * self.scaling, self.lora_B)
