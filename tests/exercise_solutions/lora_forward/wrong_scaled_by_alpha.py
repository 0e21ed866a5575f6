# scales by alpha, not alpha / r
frozen = self.base(x, ops)
return frozen + ops.linear(ops.linear(x, self.lora_A) * float(self.alpha), self.lora_B)
