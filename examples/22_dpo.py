"""22 - Preference tuning with DPO: teaching a model which of two answers to prefer.

Instruction tuning shows a model one good answer per prompt. Preference data shows two, a
chosen one and a rejected one (here: a polite and an impolite rewrite of the same answer), and
Direct Preference Optimization (Rafailov et al., 2023) learns from the pair with no reward
model and no sampling. With the policy pi (the model being trained) and the reference pi_ref
(the same model, frozen where training started):

    reward(y)  = beta * (log pi(y|x) - log pi_ref(y|x))       each answer's implicit reward
    margin     = reward(chosen) - reward(rejected)
    loss       = -log sigmoid(margin)                          log 2 at the start (margin 0)
    d loss / d margin = -sigmoid(-margin)                      -1/2 at the start

log pi(y|x) is the sum of the log-probabilities of the answer's tokens after the prompt
(tinytorch.functional.sequence_log_prob): the prompt's targets are -100, as in instruction
tuning. This walks one pair through the template, its two rows, the four log-probabilities,
the loss and its slope, then takes a few steps on a handful of pairs and watches the margins
move, on pairs it trains on and on pairs it never sees.

Run it:              python examples/22_dpo.py
Smaller and faster:  EXAMPLES_FAST=1 python examples/22_dpo.py
In a debugger:       python -m pdb examples/22_dpo.py, and stop at a line marked `breakpoint:`
                     below (the README's debugger table lists them). `model.config.fused =
                     False` makes every step one you can step into (the composed ops).
Then read tinytorch/functional/preference.py (the two kernels), gpt/finetune/preferences.py
(pairs, the left cut, batches) and gpt/finetune/train_preferences.py (the full run), and try
the two commands of the README's preference-tuning section.
"""
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

import tinytorch.functional as F
from tinytorch.functional import composed
from tinytorch.functional.preference import dpo_loss_and_slope
from gpt import GPT
from gpt.finetune.instructions import IGNORE_INDEX, format_prompt
from gpt.finetune.preferences import collate_pairs
from gpt.finetune.train_preferences import (answer_pairs, load_pairs, pair_log_probs,
                                            preference_figures, score_pairs)
from gpt.tokenizers import end_of_text_id, load_tokenizer
from gpt.training_step import make_adamw, optimizer_step

FAST = os.environ.get("EXAMPLES_FAST") == "1"
N_TRAIN = 6 if FAST else 14       # pairs trained on, all in one batch: 2 x N_TRAIN rows
N_HELD_OUT = 7 if FAST else 9     # pairs it never trains on
STEPS = 15 if FAST else 30
LOG_EVERY = 5 if FAST else 10
LR, BETA = 3e-4, 0.1
SEED = 123
ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"

if not DATA.is_dir():
    sys.exit(f"error: the reference data folder {DATA} is missing (it holds gpt2-tiny and "
             f"instruction-data-with-preference.json)")


def show_text(text):
    """Print text line by line behind a margin, so its line breaks are visible."""
    for line in text.split("\n"):
        print(f"  | {line}")


def margins_and_accuracy(model, pairs, reference):
    """The mean reward margin and the preference accuracy of `pairs` (no graph, no dropout)."""
    figures = preference_figures(score_pairs(model, pairs, eot, len(pairs)), reference, BETA)
    return figures["margin"], figures["accuracy"]


# ---- 1. The data: pairs that fit, their prompts cut from the left --------------------------------
model = GPT.from_pretrained(DATA / "gpt2-tiny")
tokenizer = load_tokenizer(DATA / "gpt2-tiny")
eot = end_of_text_id(tokenizer)                  # read from the tokenizer: 0 in gpt2-tiny
block_size = model.config.block_size
splits, counts = load_pairs(DATA / "instruction-data-with-preference.json", tokenizer,
                            block_size, SEED)
print(f"== 1. the data: instruction-data-with-preference.json, split 85/5/10 with seed {SEED} ==")
for name, found in counts.items():
    print(f"{name}: {found.describe(block_size)}")

# ---- 2. One pair -------------------------------------------------------------------------------
pair = next(p for p in splits["train"] if p.cut and p.record["input"])
record = pair.record
print("\n== 2. one pair: one prompt, two answers ==")
for field in ("instruction", "input", "chosen", "rejected"):
    print(f"{field}: {record[field]!r}")
whole = len(tokenizer.encode_ordinary(format_prompt(record)))
print(f"prompt: {whole} tokens; with the longer answer that is more than the context of "
      f"{block_size}, so its first {pair.cut} are cut and {len(pair.prompt)} kept, ending:")
show_text("..." + tokenizer.decode(pair.prompt[-40:]) + tokenizer.decode(pair.chosen[:-1])
          + "<|endoftext|>")
print(f"chosen:   {len(pair.chosen)} tokens (its end-of-text included)")
print(f"rejected: {len(pair.rejected)} tokens")

# ---- 3. Its two rows ---------------------------------------------------------------------------
print("\n== 3. a batch of one pair: row 0 = prompt + chosen, row 1 = prompt + rejected ==")
inputs, targets = collate_pairs([pair], pad_id=eot)
print(f"inputs {inputs.shape}, targets {targets.shape}")
for row, answer in enumerate(("chosen", "rejected")):
    counted = np.flatnonzero(targets[row] != IGNORE_INDEX)
    print(f"row {row} ({answer}): targets {counted[0]}-{counted[-1]} count "
          f"({len(counted)} tokens); the prompt's {counted[0]} targets and the padding's "
          f"{inputs.shape[1] - 1 - counted[-1]} are -100")

# ---- 4. The four log-probabilities, the loss and its slope ---------------------------------------
print("\n== 4. the four log-probabilities, the loss, and its gradient ==")
# breakpoint: `inputs.shape` (2, T), `targets[1]` (-100 but for the rejected answer), then `n`
#   and `policy_chosen`, `policy_rejected` (log pi of each answer, summed over its tokens)
policy_chosen, policy_rejected = pair_log_probs(model, [pair], eot, F)
reference_chosen, reference_rejected = score_pairs(model, [pair], eot, 1)   # frozen, no graph
print(f"log pi(chosen | x)   = {policy_chosen.item():9.4f}   "
      f"log pi_ref(chosen | x)   = {reference_chosen[0]:9.4f}")
print(f"log pi(rejected | x) = {policy_rejected.item():9.4f}   "
      f"log pi_ref(rejected | x) = {reference_rejected[0]:9.4f}")
chosen_reward, rejected_reward = F.dpo_rewards(policy_chosen, policy_rejected,
                                               reference_chosen, reference_rejected, BETA)
margin = chosen_reward.item() - rejected_reward.item()
print(f"rewards (beta {BETA}): chosen {chosen_reward.item():.4f}, rejected "
      f"{rejected_reward.item():.4f}, margin {margin:.4f} (the policy is the reference)")
loss = F.dpo_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected, BETA)
composed_loss = composed.dpo_loss(policy_chosen, policy_rejected, reference_chosen,
                                  reference_rejected, BETA)
print(f"loss = -log sigmoid(margin) = {loss.item():.6f}; log 2 = {math.log(2.0):.6f}; "
      f"composed: {composed_loss.item():.6f}")
_, slope = dpo_loss_and_slope(np.array([margin]))
print(f"d loss / d margin = -sigmoid(-margin) = {slope[0]:.4f}")
policy_chosen.retain_grad()           # keep the gradients of these two intermediate tensors
policy_rejected.retain_grad()
loss.backward()
print(f"d loss / d log pi(chosen) = beta * that = {policy_chosen.grad[0]:.4f}, "
      f"d loss / d log pi(rejected) = {policy_rejected.grad[0]:.4f}: up with the chosen "
      f"answer, down with the rejected one")
print("the loss and its slope at other margins: it pushes hardest where the order is wrong")
print("  margin     loss    slope")
for m in (-4.0, -1.0, 0.0, 1.0, 4.0):
    m_loss, m_slope = dpo_loss_and_slope(np.array([m]))
    print(f"  {m:6.1f} {m_loss[0]:8.4f} {m_slope[0]:8.4f}")
model.zero_grad()

# ---- 5. A few steps ----------------------------------------------------------------------------
train_pairs = splits["train"][:N_TRAIN]
held_out = splits["test"][:N_HELD_OUT]
reference = {"train": score_pairs(model, train_pairs, eot, N_TRAIN),
             "held out": score_pairs(model, held_out, eot, N_HELD_OUT)}
print(f"\n== 5. training: {STEPS} steps of DPO on {N_TRAIN} pairs (one batch of "
      f"{2 * N_TRAIN} rows), AdamW lr {LR}, beta {BETA} ==")
before = answer_pairs(model, tokenizer, held_out[:1], max_new_tokens=24)[0]
optimizer = make_adamw(model, LR, weight_decay=0.0)
model.eval()                          # no dropout: the policy starts equal to the reference
started = time.perf_counter()
for step in range(STEPS + 1):
    if step % LOG_EVERY == 0:
        train_margin, train_accuracy = margins_and_accuracy(model, train_pairs,
                                                            reference["train"])
        held_margin, held_accuracy = margins_and_accuracy(model, held_out, reference["held out"])
        print(f"step {step:3d}: training margin {train_margin:6.3f} (acc {train_accuracy:.2f}),"
              f" held-out margin {held_margin:6.3f} (acc {held_accuracy:.2f})")
    if step == STEPS:
        break
    policy_chosen, policy_rejected = pair_log_probs(model, train_pairs, eot, F)
    # breakpoint: `policy_chosen`, `reference["train"][0]` (the frozen reference's), then `n`
    #   and `loss`
    loss = F.dpo_loss(policy_chosen, policy_rejected, *reference["train"], beta=BETA)
    loss.backward()
    optimizer_step(model, optimizer, loss.item(), grad_clip=1.0)
print(f"{STEPS} steps took {time.perf_counter() - started:.1f} s")

# ---- 6. What moved -----------------------------------------------------------------------------
print("\n== 6. what moved ==")
chosen_now, rejected_now = score_pairs(model, train_pairs, eot, N_TRAIN)
chosen_change = float(np.mean(chosen_now - reference["train"][0]))
rejected_change = float(np.mean(rejected_now - reference["train"][1]))
print(f"training pairs: log pi(chosen) moved {chosen_change:+.2f} nats on average, "
      f"log pi(rejected) {rejected_change:+.2f}")
print(f"the margin is beta x their difference: {BETA} x ({chosen_change:+.2f} - "
      f"({rejected_change:+.2f})) = {BETA * (chosen_change - rejected_change):.3f}")
print("DPO pushes that difference up, not each log-probability: the chosen answers' may even "
      "fall, as long as the rejected ones' fall faster")
after = answer_pairs(model, tokenizer, held_out[:1], max_new_tokens=24)[0]
print(f"a prompt it never trained on, {held_out[0].record['instruction']!r}:")
print(f"  chosen   {held_out[0].record['chosen']!r}")
print(f"  before   {before!r}")
print(f"  after    {after!r}")
print(f"(a handful of pairs teaches those pairs: the held-out margins barely move; the full "
      f"run, python -m gpt finetune-preference, trains on {len(splits['train'])})")
