# records that a pair occurs, not how often
counts = {} if counts is None else counts
for pair in zip(ids, ids[1:]):
    counts[pair] = 1
return counts
