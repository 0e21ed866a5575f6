# a copy, then each position in turn
patched = np.array(corrupted, copy=True)
for position in positions:
    if head is None:
        patched[..., position, :] = clean[..., position, :]
    else:
        patched[:, head, position, :] = clean[:, head, position, :]
return patched
