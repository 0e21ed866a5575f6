# on a rejection draws from p itself, so tokens p favours are counted twice
if generator.random() * q[token] < p[token]:
    return True, int(token)
return False, int(draw(p[None], generator)[0])
