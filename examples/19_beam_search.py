"""19 - Beam search: keeping the K most likely continuations instead of the one best token.

Greedy decoding takes the likeliest next token at every step. A likely token can lead into an
unlikely sequence: what matters is the probability of the whole continuation, the product of
its tokens' probabilities, or the sum of their log-probabilities. Beam search keeps K partial
sequences (beams) with their running sums, and at every step

    expand   each beam by each token of the vocabulary       K * V candidates
    score    each candidate: its beam's sum + log p(token)
    select   the best: the first K that did not end continue; those that ended are finished
             hypotheses, scored sum / length ** length_penalty

Summed log-probabilities only fall as a sequence grows, so without a length penalty a short
finished hypothesis beats a long one: length_penalty (Hugging Face's name and default, 1.0)
divides by the length; 0 leaves the plain sum (short wins); 2 favours long ones. Beam search is
still a search that prunes: it finds a more likely sequence than greedy most of the time, not
always.

gpt/beam_search.py follows Hugging Face transformers' semantics exactly (tests check 114 of
its runs); this walk-through uses gpt2-tiny, trained on Shakespeare, from ../shared/data.

Run it:              python examples/19_beam_search.py
Smaller and faster:  EXAMPLES_FAST=1 python examples/19_beam_search.py
In a debugger:       python -m pdb examples/19_beam_search.py, and stop at a line marked
                     `breakpoint:` below (the README's debugger table lists them).
Then read gpt/beam_search.py (select_candidates, beam_search, keep_best_hypotheses) and
KVCache.reorder in gpt/kv_cache.py.
"""
import os
import sys
from pathlib import Path

import numpy as np

import tinytorch as tt
import tinytorch.functional as F
from gpt import GPT
from gpt.beam_search import select_candidates
from gpt.tokenizers import load_tokenizer

FAST = os.environ.get("EXAMPLES_FAST") == "1"
DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
K = 3                                    # beams; every size here differs from the others
NEW_TOKENS = 8 if FAST else 12           # tokens generated in sections 1, 2 and 4
LONGEST = 20                             # section 3: up to this many, ending at a newline
PROMPT = "ROMEO:\n"
PROMPTS = ["First Citizen:\nWe are", "KING RICHARD", "To be, or not", "JULIET:\nO Romeo",
           "My lord, the", "DUKE VINCENTIO:\nGood"][:4 if FAST else 6]

if not (DATA / "gpt2-tiny").is_dir():
    sys.exit(f"this walk-through needs gpt2-tiny from the reference data, at {DATA}")
model = GPT.from_pretrained(DATA / "gpt2-tiny")
tokenizer = load_tokenizer(DATA / "gpt2-tiny")
NEWLINE = tokenizer.encode("\n")[0]


def show(ids):
    """Token ids as text (printed with !r, so a newline shows as \\n)."""
    return tokenizer.decode([int(i) for i in ids])


def summed_log_prob(sequence, prompt_length):
    """The log-probability of sequence (1, T)'s tokens after the prompt, from one pass."""
    with tt.no_grad():
        logits, _ = model(sequence[:, :-1])
    log_probs = F.log_softmax(logits, dim=-1).data[0]                           # (T - 1, V)
    positions = np.arange(prompt_length - 1, sequence.shape[1] - 1)
    return float(log_probs[positions, sequence[0, prompt_length:]].sum())


# ---- 1. Greedy and beam search on one prompt ------------------------------------------------
print(f"== 1. greedy and beam search (K = {K}), {NEW_TOKENS} new tokens ==")
prompt = np.array([tokenizer.encode(PROMPT)])                                   # (1, T0)
T0 = prompt.shape[1]
print(f"gpt2-tiny: {model.config.n_layer} layers, vocabulary {model.config.vocab_size}; "
      f"prompt {show(prompt[0])!r}, {T0} tokens")
greedy = model.generate(prompt, NEW_TOKENS, temperature=0)
beam = model.generate(prompt, NEW_TOKENS, num_beams=K)
print(f"greedy: {show(greedy[0, T0:])!r}  log-probability {summed_log_prob(greedy, T0):.3f}")
print(f"beam:   {show(beam[0, T0:])!r}  log-probability {summed_log_prob(beam, T0):.3f}")

# ---- 2. The beams, step by step ---------------------------------------------------------------
# Without an end-of-sequence id nothing finishes before the last step, and beam search is just
# this loop: the best K of the candidates go on. (gpt/beam_search.py adds the bookkeeping of
# finished hypotheses and keeps a KV cache; here every step reruns the beams, to stay short.)
print(f"\n== 2. the beams step by step: each step keeps the best {K} of {K} x "
      f"{model.config.vocab_size} candidates ==")
beams = np.repeat(prompt, K, axis=0)                                            # (K, T0)
# (1, K) sums; all beams hold the prompt, so step 1 expands beam 0 only (the others: -1e9)
beam_scores = np.array([[0.0] + [-1e9] * (K - 1)], np.float32)
print(f"{'step':>4} {'beam':>4} {'from':>4} {'sum log p':>10}  text after the prompt")
for step in range(1, NEW_TOKENS + 1):
    with tt.no_grad():
        logits, _ = model(beams)                                                # (K, T, V)
    log_probs = F.log_softmax(logits[:, -1], dim=-1).data[None]                # (1, K, V)
    # breakpoint: `beam_scores` (each beam's sum so far), `log_probs.shape` (1, K, V), then `n`
    #   and `scores` (the 2K best sums, best first), `parents`, `tokens`
    scores, parents, tokens = select_candidates(beam_scores, log_probs, 2 * K)
    beams = np.concatenate([beams[parents[0, :K]], tokens[0, :K, None]], axis=1)
    beam_scores = scores[:, :K]
    for rank in range(K):
        print(f"{step:4} {rank:4} {parents[0, rank]:4} {beam_scores[0, rank]:10.3f}  "
              f"{show(beams[rank, T0:])!r}")
print(f"the best beam is what model.generate(prompt, {NEW_TOKENS}, num_beams={K}) returned: "
      f"{np.array_equal(beams[:1], beam)}")
print("'from' is the beam a candidate extends: where it is not its own rank, the beams were "
      "reselected (the KV cache is reordered the same way: KVCache.reorder)")

# ---- 3. Without a length penalty, short wins ------------------------------------------------
print(f"\n== 3. ending at a newline (up to {LONGEST} tokens): the length penalty decides ==")
print(f"{'length_penalty':>14} {'tokens':>6} {'sum log p':>10} {'score':>8}  text")
for length_penalty in (0.0, 1.0, 2.0):
    sequences, scores = model.generate(prompt, LONGEST, num_beams=K, eos_token_id=NEWLINE,
                                       length_penalty=length_penalty, return_scores=True)
    generated = sequences.shape[1] - T0
    print(f"{length_penalty:14} {generated:6} {summed_log_prob(sequences, T0):10.3f} "
          f"{scores[0]:8.3f}  {show(sequences[0, T0:])!r}")
print("score = sum log p / tokens ** length_penalty: with 0 the shortest line wins, because "
      "every token adds a negative log-probability")

# ---- 4. Where beam search beats greedy ------------------------------------------------------
print(f"\n== 4. summed log-probability of {NEW_TOKENS} tokens, greedy vs {K} beams, "
      f"{len(PROMPTS)} prompts ==")
wins = 0
for text in PROMPTS:
    ids = np.array([tokenizer.encode(text)])
    greedy_sum = summed_log_prob(model.generate(ids, NEW_TOKENS, temperature=0), ids.shape[1])
    beam_sum = summed_log_prob(model.generate(ids, NEW_TOKENS, num_beams=K), ids.shape[1])
    wins += beam_sum > greedy_sum
    print(f"{show(ids[0])!r:28} greedy {greedy_sum:8.3f}  beam {beam_sum:8.3f}  "
          f"{'beam' if beam_sum > greedy_sum else 'greedy'} is more likely")
print(f"beam search found the more likely continuation for {wins} of {len(PROMPTS)} prompts "
      f"(a search that prunes: not always)")
