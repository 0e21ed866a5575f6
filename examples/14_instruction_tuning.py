"""14 - Instruction fine-tuning: teaching a pretrained GPT to answer in a fixed format.

A language model continues text. To make it answer instructions, fine-tune it on texts that
each hold an instruction and its answer, always laid out the same way (the Alpaca template),
so that at the end "### Response:\\n" is followed by an answer and then <|endoftext|>:

    text      = template(instruction, input) + output + <|endoftext|>
    inputs    = ids[:-1]         targets = ids[1:]         (the next token at each position)
    targets  := -100 where the loss must not look: padding after the end-of-text, and (with
                mask_prompt) the prompt, so the model learns only to answer

This walks through one record, its tokens and its masks, then trains gpt2-tiny for a few
steps on a handful of records and asks it to answer one of them.

Run it:              python examples/14_instruction_tuning.py
Smaller and faster:  EXAMPLES_FAST=1 python examples/14_instruction_tuning.py
In a debugger:       python -m pdb examples/14_instruction_tuning.py, and stop at a line marked
                     `breakpoint:` below (the README's debugger table lists them).
Then read gpt/finetune/instructions.py (template, split, masks) and gpt/finetune/train_instructions.py (the full run), and
try `python -m gpt finetune-instruct --model ../shared/data/gpt2-tiny
--data ../shared/data/instruction-data.json --out runs/instruct --mask-prompt`.
"""
import os
import sys
import time
from pathlib import Path

import numpy as np

import bpe
import tinytorch as tt
from gpt import GPT
from gpt.finetune.train_instructions import generate_response, load_splits
from gpt.finetune.instructions import IGNORE_INDEX, collate, format_example, format_prompt
from gpt.tokenizers import end_of_text_id, load_tokenizer
from gpt.training_step import make_adamw

FAST = os.environ.get("EXAMPLES_FAST") == "1"
N_TRAIN = 6 if FAST else 12      # the handful of records to learn
STEPS = 40 if FAST else 60        # each step sees all of them (one batch)
LOG_EVERY = 10
LR = 1e-3                         # the book's 5e-5 is for GPT-2 124M over thousands of steps
SEED = 123
ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"

if not DATA.is_dir():
    sys.exit(f"error: the reference data folder {DATA} is missing (it holds gpt2-tiny and "
             f"instruction-data.json)")


def show_text(text):
    """Print text line by line behind a margin, so its line breaks are visible."""
    for line in text.split("\n"):
        print(f"  | {line}")


def spans(positions):
    """Sorted positions as compact ranges: [0, 1, 2, 5] -> '0-2, 5'."""
    runs, start = [], None
    for i, p in enumerate(positions):
        if start is None:
            start = p
        if i + 1 == len(positions) or positions[i + 1] != p + 1:
            runs.append(f"{start}-{p}" if p > start else f"{p}")
            start = None
    return ", ".join(runs) if runs else "none"


# ---- 1. The data: a seeded split, too-long records dropped ----------------------------------
tt.memory.keep_freed_memory()
model = GPT.from_pretrained(DATA / "gpt2-tiny")
tokenizer = load_tokenizer(DATA / "gpt2-tiny")
eot = end_of_text_id(tokenizer)                  # read from the tokenizer: 0 in gpt2-tiny
block_size = model.config.block_size
splits, dropped = load_splits(DATA / "instruction-data.json", tokenizer, block_size, SEED)
print(f"== 1. the data: instruction-data.json, split 85/5/10 with seed {SEED} ==")
for name, examples in splits.items():
    print(f"{name}: {len(examples)} records fit the context of {block_size} tokens, "
          f"{dropped[name]} are longer and dropped")

# ---- 2. One record in the template ---------------------------------------------------------
example = next(e for e in splits["train"] if e.record["input"])   # one with an input
record = example.record
print("\n== 2. one record, in the Alpaca template ==")
for field in ("instruction", "input", "output"):
    print(f"{field}: {record[field]!r}")
print("text:")
show_text(format_example(record) + "<|endoftext|>")

# ---- 3. Its token ids --------------------------------------------------------------------------
print("\n== 3. its token ids ==")
prompt_ids = example.ids[:example.prompt_length]
response_ids = example.ids[example.prompt_length:-1]
print(f"prompt:   {len(prompt_ids)} tokens, ending {prompt_ids[-6:]} = "
      + " | ".join(bpe.render_token(tokenizer.decode_bytes([i])) for i in prompt_ids[-6:]))
print(f"response: {len(response_ids)} tokens {response_ids}")
print(f"end:      <|endoftext|> = id {eot}")
print(f"total:    {len(example)} tokens (at most block_size = {block_size})")

# ---- 4. A batch: shift, pad, mask --------------------------------------------------------------
print("\n== 4. a batch of two: inputs = ids[:-1], targets = ids[1:], padded with "
      f"<|endoftext|> (id {eot}) ==")
shorter = min(splits["train"][:20], key=len)
batch = [example, shorter] if len(shorter) < len(example) else [shorter, example]
batch.sort(key=len, reverse=True)
# breakpoint: `n`, then `inputs[1]`, `targets[1]` and `(targets == -100).sum(axis=1)` (row 1 is
#   padded: -100 where the loss must not look)
inputs, targets = collate(batch, pad_id=eot)
print(f"lengths {[len(e) for e in batch]} -> inputs {inputs.shape}, targets {targets.shape}")
row, T = 1, inputs.shape[1]
end = len(batch[row]) - 1                      # the shorter row's real positions: 0 .. end-1
print(f"the end of row {row}:   t  input  target")
for t in range(end - 3, min(end + 3, T)):
    target = "-100 (ignored)" if targets[row, t] == IGNORE_INDEX else str(targets[row, t])
    note = " <- the first end-of-text: kept, so the model learns to stop" \
        if targets[row, t] == eot else ""
    print(f"                   {t:3d} {inputs[row, t]:6d}  {target}{note}")
real = np.arange(end - 1)
print(f"targets[t] == inputs[t + 1] at every real position: "
      f"{bool(np.all(targets[row, real] == inputs[row, real + 1]))}")
print(f"row {row}: the targets at positions {spans(np.flatnonzero(targets[row] == IGNORE_INDEX))} "
      f"are ignored (padding after the end-of-text)")

_, masked = collate(batch, pad_id=eot, mask_prompt=True)
print("with mask_prompt, the prompt's targets are ignored too:")
for r, e in enumerate(batch):
    ignored = np.flatnonzero(masked[r] == IGNORE_INDEX)
    print(f"row {r}: ignored {spans(ignored)}; learned {T - len(ignored)} targets "
          f"(the response's {len(e) - e.prompt_length - 1} tokens and its end-of-text)")

# ---- 5. Training on a handful of records ---------------------------------------------------
handful = splits["train"][:N_TRAIN]
question = handful[0].record
print(f"\n== 5. training: {STEPS} steps on {N_TRAIN} records, prompt masked, AdamW lr {LR} ==")
print(f"before training, the answer to {question['instruction']!r}:")
print(f"  {generate_response(model, tokenizer, question, max_new_tokens=30)!r}")
optimizer = make_adamw(model, LR, weight_decay=0.1)
inputs, targets = collate(handful, pad_id=eot, mask_prompt=True)
started = time.perf_counter()
for step in range(1, STEPS + 1):
    _, loss = model(inputs, targets)       # mean over the response targets only
    loss.backward()
    tt.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad()
    if step == 1 or step % LOG_EVERY == 0:
        print(f"step {step:3d}: loss on response tokens {loss.item():.4f}")
print(f"{STEPS} steps took {time.perf_counter() - started:.1f} s")

# ---- 6. Answering ------------------------------------------------------------------------------
print("\n== 6. answering: greedy, until <|endoftext|> or the next '###' ==")
answer = generate_response(model, tokenizer, question, max_new_tokens=30)
print("prompt:")
show_text(format_prompt(question).rstrip("\n"))
print(f"expected: {question['output']!r}")
print(f"answer:   {answer!r}")
print(f"learned by heart: {answer == question['output'].strip()}")
unseen = splits["test"][0].record
print(f"a record it never saw, {unseen['instruction']!r}:")
print(f"  expected {unseen['output']!r}")
print(f"  answer   {generate_response(model, tokenizer, unseen, max_new_tokens=30)!r}")
print(f"({N_TRAIN} records teach the format, not the world: see python -m gpt finetune-instruct)")
