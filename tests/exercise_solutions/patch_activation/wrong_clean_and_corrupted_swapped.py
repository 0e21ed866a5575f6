# starts from the clean run and puts the corrupted values in
positions = list(positions)
patched = clean.copy()
if head is None:
    patched[..., positions, :] = corrupted[..., positions, :]
else:
    patched[:, head, positions, :] = corrupted[:, head, positions, :]
return patched
