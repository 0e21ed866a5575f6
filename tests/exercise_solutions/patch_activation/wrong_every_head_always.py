# ignores `head`: patches every head at those positions
positions = list(positions)
patched = corrupted.copy()
patched[..., positions, :] = clean[..., positions, :]
return patched
