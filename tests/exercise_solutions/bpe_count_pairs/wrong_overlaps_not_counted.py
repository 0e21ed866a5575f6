# skips past a pair once counted, as a merge would: "aaa" gives one (a, a), not two
counts = {} if counts is None else counts
i = 0
while i < len(ids) - 1:
    pair = (ids[i], ids[i + 1])
    counts[pair] = counts.get(pair, 0) + 1
    i += 2 if i + 2 < len(ids) and ids[i + 2] == ids[i + 1] == ids[i] else 1
return counts
