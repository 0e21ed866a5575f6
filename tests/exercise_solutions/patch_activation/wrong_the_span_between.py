# patches every position from the first to the last one given, not just those given
positions = list(positions)
patched = corrupted.copy()
if not positions:
    return patched
span = slice(min(positions), max(positions) + 1)
if head is None:
    patched[..., span, :] = clean[..., span, :]
else:
    patched[:, head, span, :] = clean[:, head, span, :]
return patched
