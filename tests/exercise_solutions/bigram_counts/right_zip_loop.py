# one pair at a time, as a learner would first write it
for first, second in zip(ids[:-1], ids[1:]):
    counts[first, second] += 1
