# stops one pair early
for i in range(len(ids) - 2):
    counts[ids[i], ids[i + 1]] += 1
