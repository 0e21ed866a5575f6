# targets are the tokens before the inputs
if len(ids) < block_size + 1:
    raise ValueError(f"{len(ids)} tokens cannot hold a window of {block_size + 1}")
starts = generator.integers(0, len(ids) - block_size, size=batch_size)
windows = ids[starts[:, None] + np.arange(block_size + 1)].astype(np.int64)
return windows[:, 1:], windows[:, :-1]
