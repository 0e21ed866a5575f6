"""The autoregressive loop: predict a token, append it, repeat."""
import numpy as np

import tinytorch as tt

from .kv_cache import KVCache
from .model import check_idx
from .sampling import check_generation_arguments, next_tokens


def generate(model, idx, max_new_tokens, temperature=1.0, top_k=None, top_p=None,
             eos_token_id=None, seed=None, use_cache=True):
    """Continue each row of `idx` (B, T0) by up to `max_new_tokens` tokens.

    Returns int64 (B, T0 + n), the prompt followed by the new tokens. The model sees the last
    block_size tokens (a longer sequence is cropped from the left). A row that has emitted
    `eos_token_id` is padded with it; generation stops early once every row has.
    temperature=0 is greedy (top_k and top_p are then ignored). `seed` fixes the samples.

    With use_cache, the prompt is run once and then one position per step, attending over
    stored keys and values. Once the sequence outgrows block_size, every position in the
    window shifts each step, so the stored keys (computed at the old positions) are useless:
    the cache is rebuilt from the window, which costs what running without a cache costs.
    """
    idx = check_idx(idx, model.config).astype(np.int64)
    steps = generate_tokens(model, idx, max_new_tokens, temperature, top_k, top_p,
                            eos_token_id, seed, use_cache)
    return np.concatenate([idx] + [token[:, None] for token in steps], axis=1)


def generate_tokens(model, idx, max_new_tokens, temperature=1.0, top_k=None, top_p=None,
                    eos_token_id=None, seed=None, use_cache=True):
    """The same loop as `generate`, yielding each step's tokens (B,) as soon as they exist,
    so a caller can print text while it is generated."""
    check_generation_arguments(max_new_tokens, temperature, top_k, top_p, eos_token_id, seed)
    idx = check_idx(idx, model.config).astype(np.int64)
    was_training = model.training
    model.eval()
    generator = np.random.default_rng(seed)
    block_size = model.config.block_size
    cache = KVCache.for_model(model, idx.shape[0]) if use_cache else None
    finished = np.zeros(idx.shape[0], dtype=bool)
    try:
        for _ in range(max_new_tokens):
            with tt.no_grad():
                logits = _next_logits(model, idx[:, -block_size:], cache)      # (B, V)
            token = next_tokens(logits, temperature, top_k, top_p, generator)  # (B,)
            if eos_token_id is not None:
                token = np.where(finished, eos_token_id, token)
                finished |= token == eos_token_id
            idx = np.concatenate([idx, token[:, None]], axis=1)
            yield token
            if eos_token_id is not None and finished.all():
                break
    finally:
        model.train(was_training)


def _next_logits(model, context, cache):
    """Logits (B, V) for the token after `context` (B, T), feeding only what the cache lacks."""
    if cache is None:
        new_positions = context
    else:
        cached = cache.length
        if cached == 0 or cached != context.shape[1] - 1:
            cache.reset()                    # first step, or the window slid: start afresh
            new_positions = context
        else:
            new_positions = context[:, -1:]  # everything but the newest token is stored
    hidden = model.hidden_states(new_positions, cache)[:, -1]                 # (B, C)
    return (hidden.data @ model.transformer.wte.weight.data.T)                # (B, V)
