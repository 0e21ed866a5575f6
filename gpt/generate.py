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
from .beam_search import beam_search
from .kv_cache import KVCache, next_logits
from .sampling import DRAFT_TOKENS, check_generation_arguments, next_tokens
from .speculative import speculative_generate


def generate(model, idx, max_new_tokens, temperature=1.0, top_k=None, top_p=None,
             eos_token_id=None, seed=None, use_cache=True, on_token=None, num_beams=1,
             length_penalty=1.0, early_stopping=False, num_return_sequences=1,
             return_scores=False, draft_model=None, num_draft_tokens=DRAFT_TOKENS):
    """Continue each row of `idx` (B, T0) by up to `max_new_tokens` tokens.

    Returns int64 (B, T0 + n), the prompt followed by the new tokens. The model sees the last
    block_size tokens (a longer sequence is cropped from the left). eos_token_id is an id or a
    list of ids: a row that has emitted one is padded with it (with the first of a list), and
    generation stops early once every row has.
    temperature=0 is greedy (top_k and top_p are then ignored), and is what one beam is:
    num_beams=1 (the default) chooses token by token, as Hugging Face's num_beams=1 does,
    greedy at temperature=0 (its do_sample=False) and sampled above. `seed` fixes the samples.
    `on_token(token)` is called with each step's tokens (B,) as soon as they are chosen (to
    print text as it is made); if it returns True, generation stops after that step.

    With use_cache, the prompt is run once and then one position per step, attending over
    stored keys and values. Once the sequence outgrows block_size, every position in the
    window shifts each step, so the stored keys (computed at the old positions) are useless:
    the cache is rebuilt from the window, which costs what running without a cache costs.

    Two other ways to choose the tokens have files of their own:
    - num_beams=K > 1: beam search with Hugging Face's semantics (gpt/beam_search.py), with
      length_penalty, early_stopping (True, False or "never"), num_return_sequences (<= K rows
      per prompt row, best first) and return_scores (then (sequences, scores) is returned);
    - draft_model=M: speculative decoding (gpt/speculative.py): M proposes num_draft_tokens at
      a time, this model checks them in one pass; the tokens are distributed exactly as this
      model's own (with temperature 0: its greedy output).
    """
    check_generation_arguments(**locals())             # every argument, before any work
    if num_beams > 1:                                   # beam search: its own file
        return beam_search(model, idx, max_new_tokens, num_beams, length_penalty,
                           early_stopping, num_return_sequences, eos_token_id, return_scores,
                           use_cache)
    if draft_model is not None:                         # speculative decoding: its own file
        return speculative_generate(model, draft_model, idx, max_new_tokens, num_draft_tokens,
                                    temperature, top_k, top_p, eos_token_id, seed, on_token)
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

