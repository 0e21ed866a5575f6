# each pair (a, b) as the single number a * V + b, counted all at once
vocab_size = counts.shape[0]
pair_numbers = ids[:-1] * vocab_size + ids[1:]
counts += np.bincount(pair_numbers, minlength=vocab_size * vocab_size).reshape(counts.shape)
