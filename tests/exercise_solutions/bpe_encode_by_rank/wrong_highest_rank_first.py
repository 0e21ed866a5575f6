# the highest rank first: the rarest merges win
parts = [piece[i:i + 1] for i in range(len(piece))]
while len(parts) > 1:
    candidates = [(ranks[a + b], i) for i, (a, b) in enumerate(zip(parts, parts[1:]))
                  if a + b in ranks]
    if not candidates:
        break
    _, i = max(candidates, key=lambda c: (c[0], -c[1]))
    parts[i:i + 2] = [parts[i] + parts[i + 1]]
return parts
