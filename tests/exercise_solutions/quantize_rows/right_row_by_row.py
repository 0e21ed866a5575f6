# one row at a time, in float64, cast at the end
weight = np.asarray(weight, dtype=np.float64)
q = np.zeros(weight.shape, np.int8)
scale = np.zeros(weight.shape[0], np.float32)
for i, row in enumerate(weight):
    largest = np.abs(row).max()
    if largest == 0:
        continue
    scale[i] = largest / 127
    q[i] = np.clip(np.round(row / np.float64(scale[i])), -127, 127)
return q, scale
