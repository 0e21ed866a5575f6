# buffered fancy indexing: a pair that occurs several times is added only once
counts[ids[:-1], ids[1:]] += 1
