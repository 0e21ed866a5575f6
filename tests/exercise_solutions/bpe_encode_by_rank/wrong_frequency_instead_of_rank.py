# merges the most frequent adjacent pair, as training does, not the lowest-ranked one
from collections import Counter

parts = [piece[i:i + 1] for i in range(len(piece))]
while len(parts) > 1:
    pairs = [(a, b) for a, b in zip(parts, parts[1:]) if a + b in ranks]
    if not pairs:
        break
    counts = Counter(pairs)
    best = max(pairs, key=lambda pair: (counts[pair], -ranks[pair[0] + pair[1]]))
    i = next(i for i in range(len(parts) - 1) if (parts[i], parts[i + 1]) == best)
    parts[i:i + 2] = [parts[i] + parts[i + 1]]
return parts
