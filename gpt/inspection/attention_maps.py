"""Reading the attention weights of one layer, for pictures (`python -m gpt attention`)."""
import numpy as np

import tinytorch as tt
import tinytorch.functional as F

from ..config import check_idx


@tt.no_grad()
def attention_weights(model, idx, layer):
    """The attention weights (B, H, T, T) of block `layer` for token ids idx (B, T): row i of
    head h is how much position i looks at each position j <= i.

    The forward pass runs up to that block; there q and k are computed as the block computes
    them, and F.attention_weights (the fused attention's own code) returns the weights.
    """
    config, body = model.config, model.transformer
    if not 0 <= layer < config.n_layer:
        raise ValueError(f"layer {layer} does not exist: the model has layers 0 to "
                         f"{config.n_layer - 1}")
    idx = check_idx(idx)
    B, T = idx.shape
    if T > config.block_size:
        raise ValueError(f"a text of {T} tokens is longer than the model's context of "
                         f"{config.block_size}")
    was_training = model.training
    model.eval()
    x = body.wte(idx) + body.wpe(np.arange(T))
    for block in body.h[:layer]:
        x = block(x)
    block = body.h[layer]
    qkv = block.attn.c_attn(block.ln_1(x)).data                         # (B, T, 3C)
    C, H, D = config.n_embd, config.n_head, config.head_size
    q, k = (qkv[..., i * C:(i + 1) * C].reshape(B, T, H, D).transpose(0, 2, 1, 3)
            for i in range(2))                                           # (B, H, T, D)
    weights = F.attention_weights(q, k, is_causal=True).data                 # (B, H, T, T)
    model.train(was_training)
    return weights
