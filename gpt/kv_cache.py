"""The KV cache: keys and values of positions already seen, kept for the next step.

Without it, generating token n+1 runs the whole model over all n tokens again, although only
the newest position is new: the keys and values of the earlier positions do not change
(causal attention: a position never looks at later ones). With it, each step feeds one token
and attends over the stored keys and values.
"""
import numpy as np

import tinytorch as tt


class KVCache:
    """Per-layer keys and values, preallocated for `max_length` positions.

    keys, values: (n_layer, B, H, max_length, D) with H the model's key/value heads (fewer than
    its query heads with grouped-query attention: the memory that saves); the first `length`
    positions are filled.
    A forward pass writes its new positions in every layer (`update`), then moves `length`
    on by that many (`advance`, called once by the model after the last layer).
    """

    def __init__(self, n_layer, batch_size, n_head, max_length, head_size, dtype=np.float32):
        shape = (n_layer, batch_size, n_head, max_length, head_size)
        self.keys = np.zeros(shape, dtype)
        self.values = np.zeros(shape, dtype)
        self.length = 0

    @classmethod
    def for_model(cls, model, batch_size, max_length=None):
        """A cache for `model`'s layers and key/value heads, for up to `max_length` positions
        (None: the model's whole context, block_size; generation asks for what it will use,
        which matters for a model with a context of 100k positions)."""
        c = model.config
        dtype = model.transformer.ln_f.weight.dtype        # what the model computes in
        max_length = c.block_size if max_length is None else min(max_length, c.block_size)
        return cls(c.n_layer, batch_size, c.n_kv_head, max_length, c.head_size, dtype)

    @property
    def max_length(self):
        return self.keys.shape[3]

    def update(self, layer, k, v):
        """Store the new keys and values k, v (B, H, T, D) Tensors of `layer` after the cached
        ones, at positions length .. length + T - 1 of that layer only; return all of that
        layer's so far, Tensors (B, H, length + T, D) each. `length` does not change here
        (`advance` moves it once every layer has been updated).

        The cache is for generation, which builds no graph: a RuntimeError saying to use
        tt.no_grad() when k or v requires a gradient; a ValueError naming max_length when
        length + T positions do not fit.
        """
        # BEGIN EXERCISE kv_cache_update: refuse grads; write layer's k, v at length..; return all
        if k.requires_grad or v.requires_grad:
            raise RuntimeError("the KV cache is for generation: run it under tt.no_grad()")
        start, end = self.length, self.length + k.shape[2]
        if end > self.max_length:
            raise ValueError(f"the KV cache holds {self.max_length} positions; "
                             f"{end} do not fit")
        self.keys[layer, :, :, start:end] = k.data
        self.values[layer, :, :, start:end] = v.data
        return tt.Tensor(self.keys[layer, :, :, :end]), tt.Tensor(self.values[layer, :, :, :end])
        # END EXERCISE kv_cache_update

    def __repr__(self):
        n_layer, batch_size, n_head, max_length, head_size = self.keys.shape
        return (f"KVCache(length={self.length} of {max_length} positions, n_layer={n_layer}, "
                f"batch_size={batch_size}, n_head={n_head}, head_size={head_size}, "
                f"{self.keys.dtype}; keys and values {self.keys.shape} each)")

    def advance(self, n_positions):
        self.length += n_positions

    def reset(self):
        self.length = 0

    def truncate(self, length):
        """Forget every position from `length` on (speculative decoding rolls back past a
        rejected draft token this way). The stored numbers stay where they are: the next
        update overwrites them, and nothing reads past `length`. A ValueError unless
        0 <= length <= self.length."""
        if not 0 <= length <= self.length:
            raise ValueError(f"cannot truncate a KV cache of {self.length} positions to "
                             f"{length}")
        self.length = int(length)

    def reorder(self, indices):
        """Make row b hold what row indices[b] held, for each of the B rows: beam search keeps
        the beams it extends, and each new beam's keys and values are those of the beam it
        came from. indices: B ints in [0, B), repeats allowed (two beams from one parent).
        One gather per layer over the stored positions; nothing is recomputed."""
        indices = np.asarray(indices)
        batch_size = self.keys.shape[1]
        if indices.shape != (batch_size,) or indices.dtype.kind not in "iu" \
                or (indices < 0).any() or (indices >= batch_size).any():
            raise ValueError(f"reorder needs {batch_size} row indices in [0, {batch_size}), "
                             f"got {indices.tolist()}")
        n = self.length
        for layer in range(self.keys.shape[0]):
            # fancy indexing copies first, so a row may be read after another was written
            self.keys[layer, :, :, :n] = self.keys[layer, indices, :, :n]
            self.values[layer, :, :, :n] = self.values[layer, indices, :, :n]


def next_logits(model, idx, cache=None):
    """Logits (B, V) for the token after idx (B, T): the model runs over the last block_size
    tokens, or with a cache only over the positions the cache does not hold yet."""
    context = idx[:, -model.config.block_size:]
    if cache is None:
        new_positions = context
    elif cache.length == context.shape[1] - 1:
        new_positions = context[:, -1:]      # everything but the newest token is stored
    else:
        cache.reset()                        # first step, or the window slid: start afresh
        new_positions = context
    hidden = model.transformer(new_positions, cache)[:, -1]                     # (B, C)
    return model.head(hidden).data                                              # (B, V)
