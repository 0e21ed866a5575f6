# with @ and .T on the tensors, and the scale on the output
correction = (x @ self.lora_A.T) @ self.lora_B.T
return self.base(x, functional) + correction * self.scaling
