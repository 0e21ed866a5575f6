# one row at a time, stacked: each row's hidden state at its own last position
import tinytorch as tt
B, T = hidden.shape[:2]
ends = [T] * B if lengths is None else [int(n) for n in lengths]
return tt.stack([hidden[b, ends[b] - 1] for b in range(B)])
