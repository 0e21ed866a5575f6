"""10 - Training a tiny GPT from scratch and watching its samples improve.

The whole recipe, written out as a loop you can step through:

    repeat:
        x, y = a batch of random windows of the text, y shifted one character to the left
        logits, loss = model(x, y)        # how surprised the model is by each next character
        loss.backward()                   # the gradient of the loss for every parameter
        optimizer.step()                  # move every parameter a little against its gradient

At first the model predicts every character as likely as any other, so the loss is about
ln(vocabulary size) and a sample is noise. As the loss falls, the samples pick up spaces,
line breaks, speaker names and then words.

Run it:              python examples/10_train_tiny.py
Smaller and faster:  EXAMPLES_FAST=1 python examples/10_train_tiny.py
In a debugger:       python -m pdb examples/10_train_tiny.py, and stop at a line marked
                     `breakpoint:` below (the README's debugger table lists them).
Then read gpt/train.py (the same loop with a learning-rate schedule, evaluation, checkpoints)
and try `python -m gpt train --data ../shared/data/tinyshakespeare.txt --char`.
"""
import os
import re
import time
from pathlib import Path

import numpy as np

import tinytorch as tt
from gpt import GPT, GPTConfig
from gpt.data import get_batch, split_ids
from gpt.tokenizers import CharTokenizer
from fallback_text import SHAKESPEARE_OPENING

FAST = os.environ.get("EXAMPLES_FAST") == "1"
TEXT_BYTES = 8_000 if FAST else 32_000      # how much of the corpus to learn from
STEPS = 300 if FAST else 1200
BLOCK_SIZE = 32 if FAST else 48             # characters of context (T; all sizes differ)
BATCH_SIZE = 12                             # B: not the head size 16, so axes differ
SAMPLE_EVERY = 100 if FAST else 300         # a sample (and a validation loss) every N steps
LOG_EVERY = 50 if FAST else 100             # the mean training loss of the last N steps
SAMPLE_CHARS = 80 if FAST else 160
MAX_LR, MIN_LR, WARMUP_STEPS = 3e-3, 3e-4, STEPS // 20
ROOT = Path(__file__).resolve().parent.parent
SHAKESPEARE = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"


# ---- 1. The text, as one id per character -------------------------------------------------------
if SHAKESPEARE.is_file():
    text = SHAKESPEARE.read_text(encoding="utf-8")[:TEXT_BYTES]
    print(f"== 1. the text: the first {len(text):,} characters of {SHAKESPEARE.name} ==")
else:
    text = SHAKESPEARE_OPENING
    print(f"== 1. the text: {len(text):,} characters of examples/fallback_text.py ==")
    print(f"({SHAKESPEARE} is missing. So little text is soon learnt by heart: expect the "
          f"validation loss to rise again while the training loss keeps falling.)")
tokenizer = CharTokenizer.from_text(text)         # the vocabulary: every distinct character
ids = np.array(tokenizer.encode(text), dtype=np.int64)
train_ids, val_ids = split_ids(ids)               # the first 90% to learn, the rest to test
print(f"vocabulary: {tokenizer.vocab_size} characters: {''.join(tokenizer.chars)!r}")
print(f"{text[:30]!r} -> {ids[:30].tolist()}")
print(f"train: {len(train_ids):,} ids, validation: {len(val_ids):,} ids")

# ---- 2. A batch ----------------------------------------------------------------------------------
print("\n== 2. a batch: windows of the text, targets shifted by one ==")
batch_generator = np.random.default_rng(0)       # which windows: reproducible
x, y = get_batch(train_ids, BLOCK_SIZE, BATCH_SIZE, batch_generator)     # (B, T) each
print(f"inputs {x.shape}, targets {y.shape}")
print(f"inputs[0]:  {tokenizer.decode(x[0, :40].tolist())!r}...")
print(f"targets[0]: {tokenizer.decode(y[0, :40].tolist())!r}...")

# ---- 3. The model and the optimizer ------------------------------------------------------------
print("\n== 3. the model and the optimizer ==")
config = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=BLOCK_SIZE, n_layer=2, n_head=4,
                   n_embd=64)
model = GPT(config, seed=0)
print(f"{model.num_parameters():,} parameters: {config}")
# Weight decay pulls matrices towards zero; biases and layer-norm gains (1-D) are left alone.
decay = [p for p in model.parameters() if p.ndim >= 2]
no_decay = [p for p in model.parameters() if p.ndim < 2]
optimizer = tt.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                            {"params": no_decay, "weight_decay": 0.0}],
                           lr=MAX_LR, betas=(0.9, 0.99))
print(f"AdamW: {len(decay)} matrices with weight decay, {len(no_decay)} vectors without; "
      f"lr warms up to {MAX_LR} in {WARMUP_STEPS} steps, then decays to {MIN_LR}")
print(f"a model that knows nothing has loss ln({tokenizer.vocab_size}) = "
      f"{np.log(tokenizer.vocab_size):.3f}")

# A rough measure of a sample's quality: how many of its words occur in the text.
known_words = set(re.findall(r"[A-Za-z]+", text))
# Validation batches drawn once, so that every evaluation measures the same windows.
eval_generator = np.random.default_rng(1)
eval_batches = [get_batch(val_ids, BLOCK_SIZE, BATCH_SIZE, eval_generator) for _ in range(4)]

# ---- 4. The training loop ---------------------------------------------------------------------
print(f"\n== 4. training: {STEPS} steps of {BATCH_SIZE} x {BLOCK_SIZE} characters ==")
start = time.perf_counter()
recent_losses = []
for step in range(STEPS + 1):
    if step % SAMPLE_EVERY == 0:
        # Evaluate and sample without building graphs: no backward pass will follow.
        with tt.no_grad():
            val_loss = np.mean([model(xb, yb)[1].item() for xb, yb in eval_batches])
        prompt = np.array([tokenizer.encode("\n")])                         # (1, 1)
        sample_ids = model.generate(prompt, SAMPLE_CHARS, temperature=0.8, seed=0)
        sample = tokenizer.decode(sample_ids[0, 1:].tolist())
        words = re.findall(r"[A-Za-z]{3,}", sample)
        real = sum(word in known_words for word in words)
        print(f"step {step:5}: validation loss {val_loss:.4f}; a sample ({real} of its "
              f"{len(words)} words of 3+ letters are in the text):")
        print(f"    {sample!r}")
    if step == STEPS:                    # the last pass only measures
        break

    # Big steps while the model is far from any minimum, smaller ones as it settles in.
    lr = tt.optim.warmup_cosine_lr(step, MAX_LR, MIN_LR, WARMUP_STEPS, STEPS)
    tt.optim.set_lr(optimizer, lr)
    x, y = get_batch(train_ids, BLOCK_SIZE, BATCH_SIZE, batch_generator)
    logits, loss = model(x, y)                         # logits (B, T, V); loss a scalar
    optimizer.zero_grad()
    # breakpoint: `loss`, `model.transformer.h[0].attn.c_attn.weight.grad` (None: zeroed), then
    #   `n` and `model.transformer.h[0].attn.c_attn.weight.grad.shape`
    loss.backward()
    tt.nn.utils.clip_grad_norm_(model.parameters(), 1.0)     # tame the occasional huge step
    optimizer.step()

    recent_losses.append(loss.item())
    if (step + 1) % LOG_EVERY == 0:
        print(f"step {step + 1:5}: training loss {np.mean(recent_losses):.4f} "
              f"(mean of the last {len(recent_losses)} steps), lr {lr:.2e}")
        recent_losses = []
print(f"{STEPS} steps took {time.perf_counter() - start:.1f} s")
