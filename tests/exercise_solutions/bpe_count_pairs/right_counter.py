# collections.Counter counts the pairs; then add them into the caller's dict
from collections import Counter

if counts is None:
    counts = {}
for pair, n in Counter(zip(ids[:-1], ids[1:])).items():
    counts[pair] = counts.get(pair, 0) + n
return counts
