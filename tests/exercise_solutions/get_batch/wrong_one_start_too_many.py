# one start too many: the last window runs off the end
if len(ids) < block_size + 1:
    raise ValueError(f"{len(ids)} tokens cannot hold a window of {block_size + 1}")
starts = generator.integers(0, len(ids) - block_size + 1, size=batch_size)
windows = np.stack([np.resize(ids[s:s + block_size + 1], block_size + 1) for s in starts])
windows = windows.astype(np.int64)
return windows[:, :-1], windows[:, 1:]
