# the frozen part without its bias
frozen = functional.linear(x, self.base.weight)
return frozen + functional.linear(functional.linear(x, self.lora_A) * self.scaling, self.lora_B)
