# 1 - tanh(u)^2 as 1 / cosh(u)^2, with u computed again from x
u = GELU_C * (x + GELU_A * x ** 3)
du_dx = GELU_C * (1.0 + 3.0 * GELU_A * x ** 2)
return 0.5 * (1.0 + t) + 0.5 * x * du_dx / np.cosh(u) ** 2
