# `counts or {}` replaces an empty dict the caller passed in: nothing reaches it
counts = counts or {}
for pair in zip(ids, ids[1:]):
    counts[pair] = counts.get(pair, 0) + 1
return counts
