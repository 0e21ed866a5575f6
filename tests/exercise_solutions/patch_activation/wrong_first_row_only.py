# patches the first prompt of the batch and leaves the others corrupted
positions = list(positions)
patched = corrupted.copy()
if head is None:
    patched[0, ..., positions, :] = clean[0, ..., positions, :]
else:
    patched[0, head, positions, :] = clean[0, head, positions, :]
return patched
