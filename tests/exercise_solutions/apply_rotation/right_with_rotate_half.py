return x * cos + rotate_half(x) * sin
