# one pass over the pairs in rank order, without looking again at pairs a merge creates
parts = [piece[i:i + 1] for i in range(len(piece))]
pairs = sorted(((ranks[a + b], i) for i, (a, b) in enumerate(zip(parts, parts[1:]))
                if a + b in ranks))
if pairs:
    i = pairs[0][1]
    parts[i:i + 2] = [parts[i] + parts[i + 1]]
return parts
