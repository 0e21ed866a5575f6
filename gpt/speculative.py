"""Speculative decoding: a small draft model guesses, the large model checks several guesses in
one forward pass, and the output is exactly what the large model alone would produce.

One round, for a sequence whose last token the large model has not run yet:

    draft    the draft model proposes k tokens x_1..x_k, one at a time (cheap), each drawn from
             its distribution q_i
    verify   the large model runs once over [last token, x_1..x_k] (k + 1 positions with its
             KV cache) and gives p_1..p_{k+1}: what it would draw at each of those places
    accept   x_i in turn with probability min(1, p_i(x_i) / q_i(x_i)); at the first rejection,
             draw a replacement from the normalised max(0, p_i - q_i) and stop; if all k are
             accepted, the large model's next token comes free: a draw from p_{k+1}
    roll back both KV caches to the tokens kept (`KVCache.truncate`): a rejected token's keys
             and values are forgotten

A round yields between 1 and k + 1 tokens for one run of the large model. The rule makes each
token distributed exactly as the large model alone would draw it (Leviathan et al. 2023, Chen
et al. 2023): token x is emitted by acceptance with probability q(x) min(1, p(x)/q(x)) =
min(q(x), p(x)), and by rejection with probability (1 - sum min(p, q)) * max(0, p(x) - q(x)) /
sum max(0, p - q) = max(0, p(x) - q(x)); the two add up to p(x). The same temperature, top-k and
top-p shape p and q. With temperature 0 both are one-hot at their argmax, the same rule accepts
x_i exactly when it is the large model's argmax, and the replacement is that argmax: the output
is the large model's greedy output whatever the draft proposes.

Rows of a batch accept different numbers of tokens, so they run one after the other, each with
its own pair of caches; a row that ends (an eos id) early is padded with the first eos id.
"""
from dataclasses import dataclass, field

import numpy as np

import tinytorch as tt
from tinytorch.nn import evaluating

from .config import check_idx
from .kv_cache import KVCache
from .sampling import check_draft_model, draw, sampling_probs


@dataclass
class SpeculativeStats:
    """What the rounds did: for each, how many draft tokens were proposed and how many the
    large model accepted (a round also yields one token of the large model's own)."""

    proposed: list = field(default_factory=list)
    accepted: list = field(default_factory=list)

    @property
    def acceptance_rate(self):
        """Accepted draft tokens / proposed ones (nan before any was proposed)."""
        total = sum(self.proposed)
        return sum(self.accepted) / total if total else float("nan")

    @property
    def tokens_per_round(self):
        """Tokens made per run of the large model (the speed-up if drafting were free)."""
        return (sum(self.accepted) + len(self.accepted)) / max(len(self.accepted), 1)


def verify_token(p, q, token, generator):
    """The acceptance rule for one draft token: (accepted, the token to emit).

    p, q (V,) float64: the large model's and the draft's distributions at this place; token:
    the draft's proposal, drawn from q (so q[token] > 0). Accept with probability
    min(1, p[token] / q[token]) (one uniform number from `generator`); otherwise emit a draw
    from max(0, p - q), normalised (one more uniform number). Either way the emitted token is
    distributed as p.
    """
    # BEGIN EXERCISE verify_token: accept with prob min(1, p/q), else draw from max(0, p - q)
    if generator.random() * q[token] < p[token]:          # u < p/q, without dividing by 0
        return True, int(token)
    residual = np.maximum(p - q, 0.0)
    if residual.sum() <= 0.0:         # p == q up to rounding: a rejection cannot happen,
        residual = p                  # but if rounding made one, p itself is the answer
    return False, int(draw(residual[None], generator)[0])
    # END EXERCISE verify_token


def token_probs(logits, temperature, top_k, top_p):
    """(n, V) float64 distributions for logits (n, V): sampling_probs, or for temperature 0
    a one-hot at each row's argmax (greedy as a distribution, so one rule serves both)."""
    if temperature == 0:
        one_hot = np.zeros(logits.shape)
        np.put_along_axis(one_hot, np.argmax(logits, axis=-1)[:, None], 1.0, axis=-1)
        return one_hot
    return sampling_probs(logits, temperature, top_k, top_p)


def logits_of_new_tokens(model, sequence, cache):
    """Logits (n, V) after each of the n tokens of `sequence` (T,) that `cache` does not hold
    yet: the model runs over those alone, attending over the cached ones."""
    new = sequence[None, cache.length:]                                          # (1, n)
    return model.head(model.transformer(new, cache)).data[0]                     # (n, V)


def speculative_generate(model, draft_model, idx, max_new_tokens, num_draft_tokens=4,
                         temperature=1.0, top_k=None, top_p=None, eos_token_id=None,
                         seed=None, on_token=None, return_stats=False):
    """Continue each row of idx (B, T0) by up to max_new_tokens tokens of `model`, drafted
    by `draft_model` num_draft_tokens at a time; generate(..., draft_model=M) calls this.

    Returns int64 (B, T0 + n) as generate does (eos ends a row; finished rows are padded with
    the first eos id); with return_stats, (sequences, SpeculativeStats). on_token(token (1,))
    is called with each token as it is made (one row only) and stops generation by returning
    True. The sampling arguments are checked by gpt.sampling's checks (generate does it);
    the draft model here.
    """
    idx = check_idx(idx).astype(np.int64)
    check_draft_model(model, draft_model, idx.shape[1], max_new_tokens)
    if on_token is not None and len(idx) > 1:
        raise ValueError(f"on_token streams one row's tokens; with a draft model the {len(idx)} "
                         f"rows are made one after the other: give one row")
    generator = np.random.default_rng(seed)
    eos = None if eos_token_id is None else np.atleast_1d(eos_token_id)
    stats = SpeculativeStats()
    with evaluating(model), evaluating(draft_model), tt.no_grad():
        rows = [speculate_row(model, draft_model, row, max_new_tokens, num_draft_tokens,
                              (temperature, top_k, top_p), eos, generator, on_token, stats)
                for row in idx]
    width = max(len(row) for row in rows)
    pad = -1 if eos is None else eos[0]            # (without eos every row has the same length)
    sequences = np.array([np.pad(row, (0, width - len(row)), constant_values=pad)
                          for row in rows], dtype=np.int64)
    return (sequences, stats) if return_stats else sequences


def speculate_row(model, draft_model, prompt, max_new_tokens, k, sampling, eos, generator,
                  on_token, stats):
    """One row: prompt (T0,) followed by its new tokens (up to max_new_tokens; through the
    first eos id). Each cache holds every token of `sequence` but the last, between rounds."""
    room = len(prompt) + max_new_tokens
    cache = KVCache.for_model(model, 1, room)
    draft_cache = KVCache.for_model(draft_model, 1, room)
    sequence = prompt
    while len(sequence) < room:
        n_draft = min(k, room - len(sequence) - 1)   # the round's own token fills the last
        new_tokens = speculative_round(model, draft_model, sequence, n_draft, cache,
                                       draft_cache, sampling, generator, stats)
        for token in new_tokens:
            sequence = np.append(sequence, token)
            stop = on_token(np.array([token])) if on_token is not None else False
            if stop or (eos is not None and token in eos):
                return sequence
    return sequence


def speculative_round(model, draft_model, sequence, n_draft, cache, draft_cache, sampling,
                      generator, stats):
    """Draft n_draft tokens after `sequence`, verify them in one pass of `model`, and return
    the tokens kept (1 to n_draft + 1); both caches end holding what precedes the last one."""
    drafted, draft_probs = sequence, []
    for _ in range(n_draft):                   # the draft runs one token at a time
        logits = logits_of_new_tokens(draft_model, drafted, draft_cache)[-1:]         # (1, V)
        draft_probs.append(token_probs(logits, *sampling)[0])
        drafted = np.append(drafted, draw(draft_probs[-1][None], generator)[0])
    # one pass of the large model: its distributions after the last token and each draft
    probs = token_probs(logits_of_new_tokens(model, drafted, cache)[-(n_draft + 1):],
                        *sampling)                                                # (n+1, V)
    kept = []
    for i, proposal in enumerate(drafted[len(sequence):]):
        accepted, token = verify_token(probs[i], draft_probs[i], proposal, generator)
        kept.append(token)
        if not accepted:
            break
    else:                                       # all accepted: the large model's next token
        kept.append(int(draw(probs[-1][None], generator)[0]))
    n_accepted = len(kept) - 1
    stats.proposed.append(n_draft)
    stats.accepted.append(n_accepted)
    cache.truncate(len(sequence) + n_accepted)              # roll back past the rejection
    draft_cache.truncate(min(draft_cache.length, len(sequence) + n_accepted))
    return kept
