# misses the last pair
counts = {} if counts is None else counts
for i in range(len(ids) - 2):
    pair = (ids[i], ids[i + 1])
    counts[pair] = counts.get(pair, 0) + 1
return counts
