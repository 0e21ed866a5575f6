# one window at a time
if len(ids) < block_size + 1:
    raise ValueError(f"{len(ids)} tokens cannot hold a window of {block_size + 1}")
inputs = np.empty((batch_size, block_size), dtype=np.int64)
targets = np.empty((batch_size, block_size), dtype=np.int64)
for row in range(batch_size):
    start = int(generator.integers(0, len(ids) - block_size))
    window = np.asarray(ids[start:start + block_size + 1], dtype=np.int64)
    inputs[row], targets[row] = window[:-1], window[1:]
return inputs, targets
