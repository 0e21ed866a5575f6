# draws the starts from 1: the text's first window is never drawn
if len(ids) < block_size + 1:
    raise ValueError(f"{len(ids)} tokens cannot hold a window of {block_size + 1}")
starts = generator.integers(1, len(ids) - block_size + 1, size=batch_size)
starts = np.minimum(starts, len(ids) - block_size - 1)
windows = ids[starts[:, None] + np.arange(block_size + 1)].astype(np.int64)
return windows[:, :-1], windows[:, 1:]
