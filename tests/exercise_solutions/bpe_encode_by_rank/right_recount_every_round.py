# the obvious loop: every round, look at every adjacent pair again
parts = [bytes([byte]) for byte in piece]
while len(parts) > 1:
    best = None
    for i in range(len(parts) - 1):
        rank = ranks.get(parts[i] + parts[i + 1])
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, i)
    if best is None:
        break
    i = best[1]
    parts[i:i + 2] = [parts[i] + parts[i + 1]]
return parts
