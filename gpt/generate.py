"""The autoregressive loop: predict a token, append it, repeat.

    idx (B, T0) -> logits for the next position (B, V) -> one token per row (B,) -> append
                -> ... max_new_tokens times (or until every row has emitted eos_token_id)

`generate` is a plain loop a learner can step through: each iteration shows `logits` and the
chosen `token`. The model, the sampling rule and the KV cache each live in their own file.
"""
import numpy as np

import tinytorch as tt
from tinytorch.nn import evaluating

from .config import check_idx
from .kv_cache import KVCache
from .sampling import check_generation_arguments, next_tokens


def generate(model, idx, max_new_tokens, temperature=1.0, top_k=None, top_p=None,
             eos_token_id=None, seed=None, use_cache=True, on_token=None):
    """Continue each row of `idx` (B, T0) by up to `max_new_tokens` tokens.

    Returns int64 (B, T0 + n), the prompt followed by the new tokens. The model sees the last
    block_size tokens (a longer sequence is cropped from the left). eos_token_id is an id or a
    list of ids: a row that has emitted one is padded with it (with the first of a list), and
    generation stops early once every row has.
    temperature=0 is greedy (top_k and top_p are then ignored). `seed` fixes the samples.
    `on_token(token)` is called with each step's tokens (B,) as soon as they are chosen (to
    print text as it is made); if it returns True, generation stops after that step.

    With use_cache, the prompt is run once and then one position per step, attending over
    stored keys and values. Once the sequence outgrows block_size, every position in the
    window shifts each step, so the stored keys (computed at the old positions) are useless:
    the cache is rebuilt from the window, which costs what running without a cache costs.
    """
    check_generation_arguments(max_new_tokens, temperature, top_k, top_p, eos_token_id, seed)
    idx = check_idx(idx).astype(np.int64)                                       # (B, T0)
    generator = np.random.default_rng(seed)
    # room for the longest sequence this can make (a model's context may be 100k positions)
    cache = KVCache.for_model(model, len(idx), idx.shape[1] + max_new_tokens) if use_cache else None
    eos = None if eos_token_id is None else np.atleast_1d(eos_token_id)    # the ids that end
    finished = np.zeros(idx.shape[0], dtype=bool)          # rows that have emitted one
    with evaluating(model), tt.no_grad():                  # no dropout, no graph
        for _ in range(max_new_tokens):
            logits = next_logits(model, idx, cache)                            # (B, V)
            token = next_tokens(logits, temperature, top_k, top_p, generator)  # (B,)
            if eos is not None:
                token = np.where(finished, eos[0], token)          # finished rows: padding
                finished |= np.isin(token, eos)
            idx = np.concatenate([idx, token[:, None]], axis=1)
            stop = on_token(token) if on_token is not None else False
            if stop or finished.all():
                break
    return idx


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
