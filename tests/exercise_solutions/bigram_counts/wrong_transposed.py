# rows are the next token, columns the one before
np.add.at(counts, (ids[1:], ids[:-1]), 1)
