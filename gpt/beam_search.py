"""Beam search: follow the K most likely continuations at once, not only the best next token.

Greedy decoding commits to the likeliest token at every step, and a likely token can lead into
an unlikely sequence. Beam search keeps K partial sequences (beams), each with its running sum
of log-probabilities, and at every step

    expand   every beam by every token:              scores (B, K, V) = beam sums + log p
    score    and take the best candidates over all K*V of each row (select_candidates)
    select   the K best that did not just end continue as the new beams; those that ended
             (an end-of-sequence id, or the length limit) are offered as finished hypotheses,
             scored sum / generated_length ** length_penalty, and the K best are kept

until no running beam can beat the worst kept hypothesis. The semantics are Hugging Face
transformers 5.24's `generate(num_beams=K, do_sample=False)` (its `_beam_search`), so the same
checkpoint gives the same sequences in the same order and the same `sequences_scores`
(tests/gpt/test_beam_search.py checks 114 of its runs, tests/fixtures/README.md explains them):

- each step keeps max(2, 1 + number of eos ids) * K candidates, so that K can continue even if
  the best of them all ended; only candidates ranked among the first K are offered as
  hypotheses; the first step expands beam 0 alone (all beams hold the same prompt);
- the generated length of a hypothesis counts its eos token; the length penalty divides by
  length ** length_penalty (0: plain sums, which favour short sequences; > 0 favours longer);
- early_stopping=True stops a row as soon as it holds K hypotheses; False stops it when the
  best running beam's sum / (tokens so far) ** length_penalty cannot beat the worst kept one;
  "never" uses max_new_tokens instead of the tokens so far when length_penalty > 0;
- a row that stops accepts no more hypotheses; the search ends when no row can improve;
- the sequences are cut to the longest returned one, shorter ones padded with the (first) eos
  id. Scores are float32, as HF's are; an impossible candidate is "-1e9", as HF marks it.

The KV cache holds B*K rows; when the new beams come from other parents, `KVCache.reorder`
gathers each layer's stored keys and values once: nothing is recomputed.
"""
import numpy as np

import tinytorch as tt
import tinytorch.functional as F
from tinytorch.nn import evaluating

from .config import check_idx
from .kv_cache import KVCache, next_logits


def select_candidates(beam_scores, log_probs, n_candidates):
    """One step's expand-and-score: the n_candidates best continuations of each row.

    beam_scores (B, K): each beam's summed log-probability so far; log_probs (B, K, V): each
    beam's log-probabilities of the next token. A candidate is (beam, token), scored
    beam_scores[b, beam] + log_probs[b, beam, token]. Returns (scores, beams, tokens), each
    (B, n_candidates), best first; among equal scores the lower beam, then the lower token,
    comes first. Scores keep log_probs' dtype (float32 stays float32).
    """
    # BEGIN EXERCISE select_candidates: add beam sums, flatten K*V per row, take the best n
    B, K, V = log_probs.shape
    totals = (beam_scores[:, :, None] + log_probs).reshape(B, K * V)        # (B, K*V)
    best = np.argsort(-totals, axis=1, kind="stable")[:, :n_candidates]     # (B, n)
    scores = np.take_along_axis(totals, best, axis=1)
    return scores, best // V, best % V               # flat index = beam * V + token
    # END EXERCISE select_candidates


def best_first(scores, k):
    """Indices (B, k) of the k largest scores of each row (B, N), best first (stable)."""
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def gather(array, indices):
    """array (B, N, ...) -> (B, k, ...): row b's entries indices[b] (B, k)."""
    shape = indices.shape + (1,) * (array.ndim - 2)
    return np.take_along_axis(array, indices.reshape(shape), axis=1)


def beam_search(model, idx, max_new_tokens, num_beams, length_penalty=1.0,
                early_stopping=False, num_return_sequences=1, eos_token_id=None,
                return_scores=False, use_cache=True):
    """Beam search from each row of idx (B, T0); generate(..., num_beams=K) calls this.

    Returns int64 (B * num_return_sequences, T0 + n): for each prompt row, its best
    hypotheses, best first, cut to the longest returned one (shorter ones padded with the first
    eos id). With return_scores, (sequences, scores (B * num_return_sequences,) float32): each
    one's summed log-probability / generated_length ** length_penalty (HF's sequences_scores).
    The arguments are checked by gpt.sampling.check_generation_arguments (generate does it).
    """
    idx = check_idx(idx).astype(np.int64)
    B, T0 = idx.shape
    K, max_length = num_beams, T0 + max_new_tokens
    eos = None if eos_token_id is None else np.atleast_1d(eos_token_id).astype(np.int64)
    if max_new_tokens == 0:
        sequences = np.repeat(idx, num_return_sequences, axis=0)
        scores = np.zeros(len(sequences), np.float32)
        return (sequences, scores) if return_scores else sequences
    V = model.config.vocab_size
    # HF's count, but never more than there are (a tiny vocabulary with many eos ids)
    n_candidates = min(max(2, 1 + (0 if eos is None else len(eos))) * K, K * V)
    offered = np.arange(n_candidates) < K              # only the K best may become hypotheses
    pad = -1 if eos is None else eos[0]        # (without eos every hypothesis is full length)

    # the running beams: tokens (B, K, max_length), summed log-probabilities (B, K)
    beams = np.full((B, K, max_length), pad, np.int64)
    beams[:, :, :T0] = idx[:, None]
    cache = KVCache.for_model(model, B * K, max_length) if use_cache else None
    dtype = model.transformer.ln_f.weight.dtype                 # what the model computes in
    impossible = dtype.type(-1.0e9)            # HF's mark for a beam or hypothesis not to pick
    beam_scores = np.zeros((B, K), dtype)
    beam_scores[:, 1:] = impossible            # step 1: all beams are one; expand beam 0 only
    # the K best finished hypotheses of each row: tokens, scores, generated lengths, and
    # whether each slot holds one yet
    hyps, hyp_scores = beams.copy(), np.full((B, K), impossible, dtype)
    hyp_lengths = np.zeros((B, K), np.int64)
    hyp_done = np.zeros((B, K), bool)
    improvable = np.ones(B, bool)               # may a row still gain a better hypothesis?

    with evaluating(model), tt.no_grad():
        for length in range(T0, max_length):               # tokens in each beam so far
            logits = next_logits(model, beams[:, :, :length].reshape(B * K, length), cache)
            log_probs = F.log_softmax(tt.Tensor(logits), dim=-1).data.reshape(B, K, -1)
            scores, parents, tokens = select_candidates(beam_scores, log_probs, n_candidates)
            candidates = gather(beams, parents)                       # (B, N, max_length)
            candidates[:, :, length] = tokens
            ended = np.isin(tokens, eos) if eos is not None else np.zeros(tokens.shape, bool)
            ended |= length + 1 >= max_length                              # (B, N)

            # select: the K best candidates that did not end go on as the beams
            alive_scores = scores + impossible * ended
            keep = best_first(alive_scores, K)
            beams, beam_scores = gather(candidates, keep), gather(alive_scores, keep)
            if cache is not None:          # each new beam's keys and values: its parent's
                cache.reorder((gather(parents, keep) + np.arange(B)[:, None] * K).ravel())

            hyps, hyp_scores, hyp_lengths, hyp_done = keep_best_hypotheses(
                (hyps, hyp_scores, hyp_lengths, hyp_done), candidates, scores,
                ended & offered, length + 1 - T0, length_penalty,
                accepting=improvable & ~(hyp_done.all(axis=1) & (early_stopping is True)))

            generated = length + 1 - T0
            hoped_length = (max_new_tokens if early_stopping == "never" and length_penalty > 0
                            else generated)
            improvable &= can_improve(beam_scores[:, 0] / float(hoped_length ** length_penalty),
                                      hyp_scores, hyp_done, impossible)
            all_full = hyp_done.all() and early_stopping is True
            if not improvable.any() or all_full or ended.all():
                break

    n_out = num_return_sequences
    width = T0 + hyp_lengths[:, :n_out].max()
    sequences = hyps[:, :n_out, :width].reshape(B * n_out, width)
    return (sequences, hyp_scores[:, :n_out].reshape(-1)) if return_scores else sequences


def keep_best_hypotheses(kept, candidates, scores, finished, generated, length_penalty,
                         accepting):
    """The K best finished hypotheses of each row after this step's candidates are offered.

    kept: (tokens (B, K, L), scores (B, K), lengths (B, K), done (B, K)) so far; candidates
    (B, N, L) with their summed log-probabilities scores (B, N); finished (B, N): those that
    ended and may be offered; generated: the tokens each candidate has generated (the eos
    included); accepting (B,): rows that still take hypotheses. A candidate's score is
    scores / generated ** length_penalty; one that is not offered gets "-1e9" more, so it
    never displaces a real hypothesis.
    """
    tokens, hyp_scores, lengths, done = kept
    impossible = hyp_scores.dtype.type(-1.0e9)
    normalised = scores / float(generated ** length_penalty)
    normalised = normalised + impossible * ~accepting[:, None] + impossible * ~finished
    merged_scores = np.concatenate([hyp_scores, normalised], axis=1)     # (B, K + N)
    best = best_first(merged_scores, hyp_scores.shape[1])
    merged_lengths = np.concatenate([lengths, np.full(finished.shape, generated)], axis=1)
    return (gather(np.concatenate([tokens, candidates], axis=1), best),
            gather(merged_scores, best), gather(merged_lengths, best),
            gather(np.concatenate([done, finished], axis=1), best))


def can_improve(best_running, hyp_scores, hyp_done, impossible):
    """(B,) whether each row's best running beam, scored as if it ended now (best_running,
    (B,)), beats its worst kept hypothesis. A row with an empty slot can always improve."""
    worst = np.where(hyp_done, hyp_scores.min(axis=1, keepdims=True), impossible)  # (B, K)
    return (best_running[:, None] > worst).any(axis=1)
