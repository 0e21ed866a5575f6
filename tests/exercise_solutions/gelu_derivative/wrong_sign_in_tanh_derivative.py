# d tanh(u)/du taken as 1 + tanh(u)^2
du_dx = GELU_C * (1.0 + 3.0 * GELU_A * x * x)
return 0.5 * (1.0 + t) + 0.5 * x * (1.0 + t * t) * du_dx
