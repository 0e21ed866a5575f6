# bfloat16 is the high half of a float32: write each word there in a zeroed array (the
# high half comes second in memory on a little-endian machine, as x86 and ARM are)
import numpy as np
halves = np.zeros(words.shape + (2,), dtype=np.uint16)
halves[..., 1] = words
return halves.view(np.float32).reshape(words.shape)
