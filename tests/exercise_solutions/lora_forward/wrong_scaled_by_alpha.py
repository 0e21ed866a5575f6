# scales by alpha, not alpha / r
frozen = self.base(x, functional)
return frozen + functional.linear(functional.linear(x, self.lora_A) * float(self.alpha), self.lora_B)
