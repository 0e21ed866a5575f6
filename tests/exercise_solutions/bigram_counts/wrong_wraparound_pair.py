# np.roll also pairs the last id with the first
np.add.at(counts, (ids, np.roll(ids, -1)), 1)
