"""23 - Looking inside a trained model: the logit lens, head ablation, activation patching.

A GPT is a stack of blocks, each adding something to one residual stream (B, T, C); the final
norm and the head read the last of it out as the next token's logits. Hooks (gpt.model.Hooks)
read or replace a named activation while the model runs, and give three ways to look inside:

    the logit lens       read the stream out after every block, as the last one is read out:
                         at which depth does the next token become predictable?
    head ablation        zero one head's output: how much does the loss rise without it?
    activation patching  run a clean prompt and a corrupted one; put one activation of the
                         clean run into the corrupted run: how much of the clean answer comes
                         back, (patched - corrupted) / (clean - corrupted) in log-probability?

What it finds in gpt2-tiny (2 blocks of 4 heads, 64 wide, trained briefly on Shakespeare),
in the numbers of a run without EXAMPLES_FAST:

  - The lens. Read out straight after the embeddings, the stream predicts at every position
    the token it holds (the head is the embedding table: " I" after " I", p = 0.97), right
    2.4% of the time (where a token follows itself).
    After block 0 the top guess is right 25.1% of the time, after block 1 28.9% (log p of the
    next token -3.28, then -3.11). Of the 143 next tokens (of 495) the model gets right, 103
    are its top guess from block 0 on, 30 only after block 1, 10 from the embeddings: in this
    model the next token becomes predictable in the first block.
  - Ablation. A line of 24 tokens, twice: the second copy costs 1.850 nats a token, the first
    1.827. gpt2-tiny does not copy from its context: it has no induction head (such heads
    form suddenly, after more training than this; Olsson et al. 2022). Block 0 head 2 matters
    most (+0.525 on the second copy, +0.350 on the first), then block 0 head 0 (+0.144) and
    block 1 head 2 (+0.136): the same heads on both copies, heads that predict text, not
    heads that copy.
  - Patching. After "KING RICHARD I" the model wants "I" (p = 0.747; RICHARD III), after
    "KING EDWARD I" it does not (p = 0.011; EDWARD IV). The name's first token (" R" or " E",
    position 3) restores 88% of the log-probability from the embeddings and 80% after block
    0; after block 1 only the last position counts (100%). Block 1 moves the name to the last
    position, and one head does most of it: block 1 head 2's output alone restores 80%.

Run it:              python examples/23_look_inside.py
Smaller and faster:  EXAMPLES_FAST=1 python examples/23_look_inside.py
In a debugger:       python -m pdb examples/23_look_inside.py, and stop at a line marked
                     `breakpoint:` below (the README's debugger table lists them).
The same lens for any text: python -m gpt lens --model ../shared/data/gpt2-tiny --text "..."

It loads ../shared/data/gpt2-tiny (next to the repository's folder); if that folder is missing
it trains a small character-level model on the opening of Coriolanus first (a few seconds),
says so, and looks inside that one.

Then read gpt/inspection/lens.py, ablation.py and patching.py, and Hooks in gpt/model.py;
nostalgebraist, "interpreting GPT: the logit lens" (2020); Olsson et al., "In-context Learning
and Induction Heads" (2022); Meng et al., "Locating and Editing Factual Associations in GPT"
(2022, causal tracing); Heimersheim and Nanda, "How to use and interpret activation patching"
(2024).
"""
import os
from pathlib import Path

import numpy as np

import bpe
import tinytorch as tt
import tinytorch.functional as F
from gpt import GPT, GPTConfig
from gpt.data import get_batch
from gpt.inspection.ablation import ablated_loss, head_ablation
from gpt.inspection.lens import depth_names, lens_table, logit_lens
from gpt.inspection.patching import Patch, activation_patching
from gpt.tokenizers import CharTokenizer, load_tokenizer
from fallback_text import SHAKESPEARE_OPENING
from tinytorch.nn import evaluating

FAST = os.environ.get("EXAMPLES_FAST") == "1"
ROOT = Path(__file__).resolve().parent.parent
GPT2_TINY = ROOT.parent / "shared" / "data" / "gpt2-tiny"
TRAIN_STEPS = 250 if FAST else 800          # the fallback model's, when gpt2-tiny is missing
SEED = 0


def piece(tokenizer, token_id):
    """One token as quoted text: '" I"', '"\\n"'."""
    return bpe.render_token(tokenizer.decode_bytes([int(token_id)]))


def train_fallback_model():
    """A 2-block character model that learns SHAKESPEARE_OPENING nearly by heart; its sizes
    differ from every other size printed here (V 46, C 36, D 12, H 3, block 72)."""
    tokenizer = CharTokenizer.from_text(SHAKESPEARE_OPENING)
    ids = np.array(tokenizer.encode(SHAKESPEARE_OPENING))
    config = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=72, n_layer=2, n_head=3,
                       n_embd=36)
    model = GPT(config, seed=SEED)
    optimizer = tt.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    batches = np.random.default_rng(SEED)
    for _ in range(TRAIN_STEPS):
        inputs, targets = get_batch(ids, config.block_size, 10, batches)
        _, loss = model(inputs, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model, tokenizer, loss.item()


# ---- 1. The model -------------------------------------------------------------------------------
if GPT2_TINY.is_dir():
    model, tokenizer = GPT.from_pretrained(GPT2_TINY), load_tokenizer(GPT2_TINY)
    print(f"== 1. the model: {GPT2_TINY.name}, loaded ==")
    # a name decides the answer: RICHARD II and III, but EDWARD IV
    CLEAN, CORRUPTED = "\n\nKING RICHARD I", "\n\nKING EDWARD I"
    LENS_WINDOWS, LENS_TOKENS = (2, 60) if FAST else (5, 100)     # B, T of the lens's text
    COPY_TOKENS, COPY_START = 24, 40
else:
    print(f"== 1. the model: no checkpoint at {GPT2_TINY}, so a character-level model "
          f"trained for {TRAIN_STEPS} steps here ==")
    model, tokenizer, last_loss = train_fallback_model()
    print(f"trained on the {len(SHAKESPEARE_OPENING):,} characters of examples/"
          f"fallback_text.py; the last batch's loss {last_loss:.3f}")
    # the letter two back decides the next: "speak", but "steal" or "steady"
    CLEAN, CORRUPTED = "Speak, spea", "Speak, stea"
    LENS_WINDOWS, LENS_TOKENS = (2, 50) if FAST else (5, 60)
    COPY_TOKENS, COPY_START = 20, 100
config = model.config
names = depth_names(config.n_layer)                  # embed, block 0, ..., the lens's rows
print(f"{config.n_layer} blocks of {config.n_head} heads, {config.n_embd} wide (heads of "
      f"{config.head_size}); {config.vocab_size} tokens; {model.num_parameters():,} parameters")
text_ids = tokenizer.encode(SHAKESPEARE_OPENING)

# ---- 2. The logit lens -------------------------------------------------------------------------
print("\n== 2. the logit lens: where in the stack the next token becomes predictable ==")
windows = [text_ids[b * LENS_TOKENS:(b + 1) * LENS_TOKENS] for b in range(LENS_WINDOWS)]
idx = np.array(windows)                                     # (B, T): the text, cut in B pieces
# breakpoint: `idx.shape` (B, T), then `n` and `lens.shape` (depths, B, T, V): one row of logits
#   per depth, `lens[-1, 0, -1].argmax()` (the model's own guess after the last token)
lens = logit_lens(model, idx)                                               # (L + 1, B, T, V)
print(f"idx {idx.shape} -> the residual stream at {len(names)} depths, each read out through "
      f"ln_f and the head: lens {lens.shape}")
# every position but each window's last, where the next token is in the text: N of them
next_ids = idx[:, 1:].reshape(-1)                                           # (N,)
log_probs = F.log_softmax(tt.Tensor(lens[:, :, :-1].astype(np.float64)), dim=-1).data
log_probs = log_probs.reshape(len(names), len(next_ids), -1)                # (L + 1, N, V)
guesses = log_probs.argmax(axis=-1)                       # (L + 1, N) each depth's top guess
final = guesses[-1]                                       # the model's own guesses
print(f"over {len(next_ids)} next tokens of the opening of Coriolanus:")
print(f"{'depth':9} {'top guess right':>15} {'log p(next)':>12} {'top guess = the model':>22}")
for depth, name in enumerate(names):
    right = np.mean(guesses[depth] == next_ids)
    log_p = np.mean(log_probs[depth, np.arange(len(next_ids)), next_ids])
    print(f"{name:9} {right:15.1%} {log_p:12.3f} {np.mean(guesses[depth] == final):22.1%}")
# the depth from which a position's top guess is the model's own and stays so to the end
agrees = guesses == final                                              # (L + 1, T - 1)
stays = np.flip(np.cumprod(np.flip(agrees, axis=0), axis=0), axis=0).astype(bool)
settles = len(names) - stays.sum(axis=0)                    # index of that first depth
solved = final == next_ids
print(f"the model's guess is right at {solved.sum()} of {len(next_ids)} positions; there the "
      f"right token is the top guess for good from:")
settled_counts = [int(np.sum(settles[solved] == depth)) for depth in range(len(names))]
for name, count in zip(names, settled_counts):
    print(f"  {name:9} {count:3} position{'' if count == 1 else 's'}")
print(f"so the next token becomes predictable mostly at {names[int(np.argmax(settled_counts))]}")
clean_ids = tokenizer.encode(CLEAN)
print(f"the lens after {bpe.render_token(CLEAN.encode())}, as `python -m gpt lens` prints it:")
for line in lens_table(logit_lens(model, np.array([clean_ids]))[:, 0, -1], tokenizer, 3):
    print("  " + line)

# ---- 3. Head ablation on a repeated sequence -------------------------------------------------
print("\n== 3. head ablation: which heads matter for a repeated sequence ==")
line_ids = text_ids[COPY_START:COPY_START + COPY_TOKENS]
repeat_idx = np.array([line_ids + line_ids])                                # (1, 2 R)
R = COPY_TOKENS
first_copy = np.full_like(repeat_idx, -100)              # -100: a position that does not count
first_copy[0, :R - 1] = repeat_idx[0, 1:R]               # predicting the first copy
second_copy = np.full_like(repeat_idx, -100)
second_copy[0, R:-1] = repeat_idx[0, R + 1:]             # the second: all of it seen before
print(f"a line of {R} tokens, twice: idx {repeat_idx.shape}: "
      f"{bpe.render_token(tokenizer.decode_bytes(line_ids))}")
loss_first = ablated_loss(model, repeat_idx, first_copy)
loss_second = ablated_loss(model, repeat_idx, second_copy)
# A model that copies from its context (an induction head) finds the second copy far easier.
copies = loss_second < 0.5 * loss_first
print(f"loss on the first copy {loss_first:.3f}, on the second {loss_second:.3f}: "
      + ("far easier: this model copies from its context" if copies else
         "no easier: this model does not copy from its context (no induction head yet)"))

LAYER, HEAD = config.n_layer - 1, 0


def zero_one_head(heads_out):                  # (B, H, T, D): each head's output, each position
    # breakpoint: `heads_out.shape` (B, H, T, D), `float(np.abs(heads_out.data[0, HEAD]).max())`,
    #   then `n` 2 times and `float(np.abs(kept[0, HEAD]).max())` (zero now)
    kept = heads_out.data.copy()
    kept[:, HEAD] = 0.0
    return tt.Tensor(kept)                     # the model goes on with this instead


with evaluating(model), tt.no_grad(), model.hooks({f"h.{LAYER}.attn.heads": zero_one_head}):
    _, loss = model(repeat_idx, second_copy)
print(f"block {LAYER} head {HEAD} zeroed by a hook written here: loss {loss.item():.4f}; by "
      f"gpt.inspection.ablation: "
      f"{ablated_loss(model, repeat_idx, second_copy, [(LAYER, HEAD)]):.4f}")
on_second = head_ablation(model, repeat_idx, second_copy)
on_first = head_ablation(model, repeat_idx, first_copy)
print("the rise in the loss on the second copy with each head zeroed (on the first copy):")
print(" " * 9 + "".join(f"{f'head {h}':>18}" for h in range(config.n_head)))
for layer in range(config.n_layer):
    print(f"block {layer:<3}" + "".join(
        f"{on_second.increase[layer, h]:+9.3f} ({on_first.increase[layer, h]:+6.3f})"
        for h in range(config.n_head)))
print("the heads that matter most for the second copy:")
for layer, head, increase in on_second.ranked()[:3]:
    print(f"  block {layer} head {head}: {increase:+.3f} (first copy "
          f"{on_first.increase[layer, head]:+.3f})")

# ---- 4. Activation patching -------------------------------------------------------------------
print("\n== 4. activation patching: where the clean answer comes from ==")
corrupted_ids = tokenizer.encode(CORRUPTED)
T = len(clean_ids)
assert len(corrupted_ids) == T, "patching needs two prompts of the same length"
clean_idx, corrupted_idx = np.array([clean_ids]), np.array([corrupted_ids])
labels = [piece(tokenizer, c) if c == d else f"{piece(tokenizer, c)}/{piece(tokenizer, d)}"
          for c, d in zip(clean_ids, corrupted_ids)]
print(f"clean     {bpe.render_token(CLEAN.encode())}  idx {clean_idx.shape}")
print(f"corrupted {bpe.render_token(CORRUPTED.encode())}  idx {corrupted_idx.shape}")
print("positions: " + "  ".join(f"{p}:{label}" for p, label in enumerate(labels)))
streams = [name if name == "embed" else f"h.{name.split()[1]}.resid" for name in names]
by_position = activation_patching(model, clean_idx, corrupted_idx,
                                  [Patch(stream, positions=(p,)) for stream in streams
                                   for p in range(T)])
answer = int(by_position.answer[0])
print(f"the clean answer {piece(tokenizer, answer)}: p = {np.exp(by_position.clean):.3f} "
      f"(log p {by_position.clean:.3f}) after the clean prompt, p = "
      f"{np.exp(by_position.corrupted):.3f} (log p {by_position.corrupted:.3f}) after the "
      f"corrupted one")
restored = by_position.restored.reshape(len(streams), T)                    # (L + 1, T)
width = max(8, max(map(len, labels)) + 2)
print("the fraction restored by one position of the residual stream, from the clean run:")
print(" " * 9 + "".join(f"{label:>{width}}" for label in labels))
for name, row in zip(names, restored):
    # + 0.0 turns -0.0 (nothing restored, over a negative clean - corrupted) into 0.0
    print(f"{name:9}" + "".join(f"{np.round(value, 3) + 0.0:{width}.3f}" for value in row))
whole = activation_patching(model, clean_idx, corrupted_idx, [Patch(s) for s in streams])
print("every position of one depth at once: " + ", ".join(
    f"{name} {value:.3f}" for name, value in zip(names, whole.restored)))
by_head = activation_patching(model, clean_idx, corrupted_idx,
                              [Patch(f"h.{layer}.attn.heads", head=head)
                               for layer in range(config.n_layer)
                               for head in range(config.n_head)])
print("the fraction restored by one head's output at every position:")
print(" " * 9 + "".join(f"{f'head {h}':>9}" for h in range(config.n_head)))
for layer, row in enumerate(by_head.restored.reshape(config.n_layer, config.n_head)):
    print(f"block {layer:<3}" + "".join(f"{np.round(value, 3) + 0.0:9.3f}" for value in row))
best = [(int(row.argmax()), row.max()) for row in restored]
print("where each depth carries most: " + ", ".join(
    f"{name} at position {p} ({labels[p]}) {value:.3f}" for name, (p, value) in zip(names, best)))
