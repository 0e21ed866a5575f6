"""Picking the next token from the model's logits: greedy, temperature, top-k, top-p.

Each filter takes logits (B, V) and returns logits with the excluded tokens set to -inf, so
that softmax gives them probability 0. The order is the usual one: temperature, top-k, top-p.
"""
import numpy as np

from .config import check_idx
from .safeguards.checks import boolean, integer, number, optional_integer

DRAFT_TOKENS = 4          # speculative decoding's default: tokens a draft proposes per round


def top_k_filter(logits, k):
    """Keep the k largest logits of each row of logits (B, V), k >= 1, and set the others to
    -inf; ties with the k-th largest are kept too. Returns a new array (or `logits` itself
    when k >= V): the caller's array is never changed."""
    # BEGIN EXERCISE top_k_filter: per row, -inf for every logit below the row's k-th largest
    if k >= logits.shape[-1]:
        return logits
    kth_largest = np.partition(logits, -k, axis=-1)[..., -k, None]
    return np.where(logits < kth_largest, -np.inf, logits)
    # END EXERCISE top_k_filter


def top_p_filter(logits, p):
    """Keep, in each row of logits (B, V), the smallest set of most likely tokens whose
    probabilities (softmax of the row) add up to at least p, 0 < p <= 1 (nucleus sampling), and
    set the others to -inf. The most likely token is always kept. Logits in the thousands must
    work (this module's `softmax` subtracts the max first). Returns a new array: the caller's is
    never changed."""
    # BEGIN EXERCISE top_p_filter: drop a token once the mass before it reaches p
    order = np.argsort(-logits, axis=-1, kind="stable")                # most likely first
    sorted_logits = np.take_along_axis(logits, order, axis=-1)
    probs = softmax(sorted_logits)
    mass_before = np.cumsum(probs, axis=-1) - probs                    # mass of better tokens
    drop_sorted = mass_before >= p                                     # already reached p
    drop = np.empty_like(drop_sorted)
    np.put_along_axis(drop, order, drop_sorted, axis=-1)
    return np.where(drop, -np.inf, logits)
    # END EXERCISE top_p_filter


def next_token_probs(logits, temperature=1.0, top_k=None, top_p=None):
    """The distribution `next_tokens` draws from: probabilities (B, V) float64 for logits
    (B, V), temperature > 0. Divide the logits by the temperature (below 1 sharpens, above 1
    flattens), keep the top_k largest (`top_k_filter`, when top_k is not None), then the
    nucleus of mass top_p (`top_p_filter`, when top_p is not None), in that order, and
    softmax each row. Work in float64 whatever the logits' dtype (sampling is cheap), and
    leave the caller's logits as they are."""
    # BEGIN EXERCISE next_token_probs: softmax(logits / temperature) after top-k, then top-p
    scaled = logits.astype(np.float64) / temperature
    if top_k is not None:
        scaled = top_k_filter(scaled, int(top_k))
    if top_p is not None:
        scaled = top_p_filter(scaled, top_p)
    return softmax(scaled)
    # END EXERCISE next_token_probs


def softmax(logits):
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    exps = np.exp(shifted)
    return exps / np.sum(exps, axis=-1, keepdims=True)


def next_tokens(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    """One token id per row of logits (B, V): argmax if temperature == 0 (top-k and top-p are
    then irrelevant), otherwise a sample from softmax(logits / temperature) after top-k and
    then top-p filtering. temperature=inf makes every token equally likely. Returns int64 (B,)."""
    check_sampling_arguments(temperature, top_k, top_p)
    if not np.isfinite(logits).all():
        raise FloatingPointError("the logits hold nan or inf (the model's activations "
                                 "overflowed): there is nothing to sample from")
    if temperature == 0:
        return np.argmax(logits, axis=-1).astype(np.int64)
    return draw(sampling_probs(logits, temperature, top_k, top_p), generator)


def draw(probs, generator=None):
    """One token id per row of probs (B, V) (rows summing to 1, or to any positive total),
    drawn with `generator`. Returns int64 (B,).

    Inverse-CDF sampling: one uniform number per row, the first token whose cumulative
    probability exceeds it."""
    generator = np.random.default_rng() if generator is None else generator
    uniform = generator.random((probs.shape[0], 1))
    cdf = np.cumsum(probs, axis=-1)
    choice = np.sum(cdf <= uniform * cdf[:, -1:], axis=-1)
    return np.minimum(choice, probs.shape[-1] - 1).astype(np.int64)


def sampling_probs(logits, temperature, top_k=None, top_p=None):
    """What `next_tokens` draws from for temperature > 0: next_token_probs (B, V) float64 of
    logits (B, V) whose rows are first shifted to a maximum of 0 (softmax does not change), so
    that a tiny temperature cannot overflow: the best token gets 0, the others -inf."""
    logits = logits.astype(np.float64)
    logits -= logits.max(axis=-1, keepdims=True)
    with np.errstate(over="ignore"):                  # -inf is the answer, not a problem
        return next_token_probs(logits, temperature, top_k, top_p)


def check_sampling_arguments(temperature, top_k=None, top_p=None):
    """The choices of how to pick a token, checked: temperature a number >= 0 (inf allowed:
    uniform), top_k None or an integer >= 1, top_p None or a number in (0, 1]."""
    number(temperature, "temperature", "[0, inf]")
    optional_integer(top_k, "top_k", minimum=1)
    if top_p is not None:
        number(top_p, "top_p", "(0, 1]")


def check_generation_arguments(max_new_tokens, temperature=1.0, top_k=None, top_p=None,
                               eos_token_id=None, seed=None, num_beams=1, length_penalty=1.0,
                               early_stopping=False, num_return_sequences=1,
                               return_scores=False, draft_model=None,
                               num_draft_tokens=DRAFT_TOKENS, on_token=None, use_cache=True,
                               model=None, idx=None):
    """generate()'s arguments, checked before any work is done (NaN and negative counts
    included): idx token ids (B, T) if given, max_new_tokens an integer >= 0, the sampling
    choices (check_sampling_arguments), eos_token_id None, an id (an integer >= 0) or a
    non-empty list of ids (Llama 3 and Qwen instruct models end on any of several), seed None,
    an integer >= 0 or an np.random.Generator; then how the tokens are chosen
    (check_decoding_choice). generate passes all its arguments (the model is not checked)."""
    if idx is not None:
        check_idx(idx)
    integer(max_new_tokens, "max_new_tokens", minimum=0)
    check_sampling_arguments(temperature, top_k, top_p)
    if isinstance(eos_token_id, (list, tuple)):
        if not eos_token_id:
            raise ValueError("eos_token_id is an empty list: give at least one id, or None")
        for token_id in eos_token_id:
            integer(token_id, "eos_token_id", minimum=0)
    else:
        optional_integer(eos_token_id, "eos_token_id", minimum=0)
    if not (seed is None or isinstance(seed, np.random.Generator)):
        integer(seed, "seed", minimum=0)
    check_decoding_choice(temperature, top_k, top_p, num_beams, length_penalty, early_stopping,
                          num_return_sequences, return_scores, draft_model, num_draft_tokens,
                          on_token, use_cache)


def check_decoding_choice(temperature, top_k, top_p, num_beams, length_penalty, early_stopping,
                          num_return_sequences, return_scores, draft_model, num_draft_tokens,
                          on_token, use_cache):
    """Token by token (the default), beam search (num_beams > 1) or speculative decoding
    (draft_model): each one's settings valid, and no setting of one given to another.

    Beam search is deterministic (Hugging Face's do_sample=False), so a temperature, top_k or
    top_p other than the defaults is an error, as is on_token (a beam's tokens are decided only
    at the end) or a draft model. num_return_sequences must be at most num_beams;
    early_stopping is True, False or "never". Speculative decoding rolls its caches back, so
    it needs use_cache; num_draft_tokens is an integer >= 1.
    """
    num_beams = integer(num_beams, "num_beams", minimum=1)
    number(length_penalty, "length_penalty", "(-inf, inf)")
    if not (isinstance(early_stopping, bool) or early_stopping == "never"):
        raise ValueError(f"early_stopping must be True, False or \"never\", got "
                         f"{early_stopping!r}")
    integer(num_return_sequences, "num_return_sequences", minimum=1)
    boolean(return_scores, "return_scores")
    integer(num_draft_tokens, "num_draft_tokens", minimum=1)
    if num_beams > 1:
        changed = [f"{name}={value!r}" for name, value, default in (
            ("temperature", temperature, 1.0), ("top_k", top_k, None), ("top_p", top_p, None))
            if value != default]
        if changed:
            raise ValueError(f"num_beams={num_beams} is deterministic beam search: "
                             f"{', '.join(changed)} does not apply (leave temperature, top_k "
                             f"and top_p at their defaults)")
        if num_return_sequences > num_beams:
            raise ValueError(f"num_return_sequences={num_return_sequences} is more than "
                             f"num_beams={num_beams}: beam search keeps num_beams sequences")
        if draft_model is not None:
            raise ValueError("a draft_model speeds up token-by-token decoding; it does not "
                             f"combine with num_beams={num_beams}")
        if on_token is not None:
            raise ValueError("on_token needs tokens that are final as they are made; beam "
                             "search decides its sequences only at the end")
        return
    beam_only = [f"{name}={value!r}" for name, value, default in (
        ("length_penalty", length_penalty, 1.0), ("early_stopping", early_stopping, False),
        ("num_return_sequences", num_return_sequences, 1), ("return_scores", return_scores,
                                                             False)) if value != default]
    if beam_only:
        raise ValueError(f"{', '.join(beam_only)} applies to beam search only: give "
                         f"num_beams > 1")
    if draft_model is None and num_draft_tokens != DRAFT_TOKENS:
        raise ValueError(f"num_draft_tokens={num_draft_tokens} applies to speculative "
                         f"decoding only: give a draft_model")
    if draft_model is not None and not use_cache:
        raise ValueError("speculative decoding rolls its KV caches back: it needs "
                         "use_cache=True")


def check_draft_model(model, draft_model, prompt_length, max_new_tokens):
    """A draft model that can propose tokens for `model`: the same vocabulary size (the ids
    must mean the same tokens), and both contexts long enough for the prompt and all new
    tokens but the last (verifying several tokens in one pass cannot slide the window token
    by token as plain generation does)."""
    sizes = getattr(getattr(draft_model, "config", None), "vocab_size", None)
    if sizes is None:
        raise TypeError(f"draft_model must be a GPT, got {type(draft_model).__name__}")
    if draft_model.config.vocab_size != model.config.vocab_size:
        raise ValueError(f"the draft model's vocabulary has {draft_model.config.vocab_size} "
                         f"tokens and the model's {model.config.vocab_size}: a draft must "
                         f"share the model's tokenizer")
    needed = prompt_length + max_new_tokens - 1
    for name, m in (("model", model), ("draft model", draft_model)):
        if needed > m.config.block_size:
            raise ValueError(f"speculative decoding keeps the whole sequence in its caches: a "
                             f"prompt of {prompt_length} tokens and {max_new_tokens} new ones "
                             f"need a context of {needed}, and the {name}'s block_size is "
                             f"{m.config.block_size}: at most "
                             f"{max(m.config.block_size - prompt_length + 1, 0)} new tokens fit")
