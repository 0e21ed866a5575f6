# every row at the first row's last position
B, T = hidden.shape[:2]
last = T - 1 if lengths is None else int(np.asarray(lengths)[0]) - 1
return hidden[:, last]
