# on a tie takes the last pair with the lowest rank
parts = [piece[i:i + 1] for i in range(len(piece))]
while len(parts) > 1:
    pair_ranks = [ranks.get(a + b) for a, b in zip(parts, parts[1:])]
    known = [r for r in pair_ranks if r is not None]
    if not known:
        break
    best = min(known)
    i = len(pair_ranks) - 1 - pair_ranks[::-1].index(best)
    parts[i:i + 2] = [parts[i] + parts[i + 1]]
return parts
