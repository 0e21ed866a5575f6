# patches the corrupted array itself and returns it
positions = list(positions)
if head is None:
    corrupted[..., positions, :] = clean[..., positions, :]
else:
    corrupted[:, head, positions, :] = clean[:, head, positions, :]
return corrupted
