"""15 - LoRA: fine-tune a pretrained GPT-2 by training a few small matrices beside its weights.

Full fine-tuning moves every weight of the model. LoRA freezes them all and gives each chosen
Linear layer (out, in) a low-rank correction of its own, two thin matrices A (r, in) and
B (out, r):

    y = x W^T + b  +  (alpha / r) * (x A^T) B^T        W, b frozen; only A and B train

B starts at zero, so the model starts out exactly as it was pretrained. After training,
(alpha / r) B A is folded into W ("merging"): the result is a plain GPT-2 again, as fast as
before and saved in the ordinary checkpoint format.

This loads gpt2-tiny, counts its parameters before and after adding LoRA, trains only the LoRA
matrices to predict a few kB of Shakespeare better, merges, checks that merging changed
nothing, and saves and reloads the merged model.

Run it:              python examples/15_lora.py
Smaller and faster:  EXAMPLES_FAST=1 python examples/15_lora.py
In a debugger:       python -m pdb examples/15_lora.py, and stop at a line marked
                     `breakpoint:` below (the README's debugger table lists them).
Then read gpt/finetune/lora.py (LoRALinear, apply_lora, merge_lora) and try
`python -m gpt finetune-classify ... --lora-rank 4`.
"""
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import tinytorch as tt
from gpt import GPT
from gpt.data import get_batch
from gpt.finetune.lora import LoRALinear, apply_lora, count_parameters, merge_lora
from gpt.tokenizers import load_tokenizer

FAST = os.environ.get("EXAMPLES_FAST") == "1"
TEXT_BYTES = 4_000 if FAST else 8_000     # how much Shakespeare to fit
STEPS = 60 if FAST else 300
LOG_EVERY = 20 if FAST else 50            # print the mean training loss of the last N steps
BLOCK_SIZE, BATCH_SIZE = 48, 8                 # T, B: unlike any width of the model
RANK, ALPHA, LR = 4, 8, 1e-2
ROOT = Path(__file__).resolve().parent.parent
GPT2_TINY = ROOT.parent / "shared" / "data" / "gpt2-tiny"
SHAKESPEARE = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"

for path in (GPT2_TINY, SHAKESPEARE):
    if not path.exists():
        sys.exit(f"error: {path} is missing (this example needs ../shared/data next to the "
                 f"repository)")


def print_counts(model, when):
    trainable, total = count_parameters(model)
    print(f"{when}: {trainable:,} of {total:,} parameters train ({trainable / total:.2%})")


# ---- 1. The pretrained model ---------------------------------------------------------------
model = GPT.from_pretrained(GPT2_TINY)
tokenizer = load_tokenizer(GPT2_TINY)
print(f"== 1. the pretrained model: {GPT2_TINY.name} ==")
print_counts(model, "before LoRA")

# ---- 2. LoRA on every block's c_attn, attn.c_proj, mlp.c_fc and mlp.c_proj -------------------
print(f"\n== 2. LoRA with rank {RANK} and alpha {ALPHA} ==")
# breakpoint: `print(model.transformer.h[0].attn)`, `count_parameters(model)`, then `n` and
#   `print(model.transformer.h[0].attn)` (wrapped), `count_parameters(model)`
apply_lora(model, rank=RANK, alpha=ALPHA, generator=np.random.default_rng(0))
print_counts(model, "after LoRA")
print("block 0's attention now reads:")
for line in repr(model.transformer.h[0].attn).splitlines():
    print(f"  {line}")
for name, param in model.named_parameters():
    if name.startswith("transformer.h.0.attn.c_attn."):
        state = "trains" if param.requires_grad else "frozen"
        print(f"  {name:40} {str(param.shape):12} {state}")
c_attn = model.transformer.h[0].attn.c_attn
print(f"one layer: {c_attn.in_features} x {c_attn.out_features} = "
      f"{c_attn.in_features * c_attn.out_features:,} frozen weights, and "
      f"r * (in + out) = {RANK} * ({c_attn.in_features} + {c_attn.out_features}) = "
      f"{c_attn.lora_A.numel() + c_attn.lora_B.numel():,} that train")

# ---- 3. Training only the LoRA matrices ----------------------------------------------------
text = SHAKESPEARE.read_text(encoding="utf-8")[:TEXT_BYTES]
ids = np.array(tokenizer.encode(text), dtype=np.int64)
print(f"\n== 3. training: {STEPS} steps of {BATCH_SIZE} x {BLOCK_SIZE} tokens from the first "
      f"{len(text):,} characters of {SHAKESPEARE.name} ({len(ids):,} tokens) ==")
# The optimizer gets the trainable parameters only: frozen ones get no gradient and no state.
optimizer = tt.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LR,
                           weight_decay=0.0)
frozen_before = c_attn.base.weight.data.copy()
# The same windows before and after training, so the two losses compare like with like.
eval_x, eval_y = get_batch(ids, BLOCK_SIZE, 16, np.random.default_rng(1))
with tt.no_grad():
    loss_before = model(eval_x, eval_y)[1].item()
print(f"loss on 16 fixed windows before training: {loss_before:.4f}")
batch_generator = np.random.default_rng(0)
recent_losses, start = [], time.perf_counter()
for step in range(1, STEPS + 1):
    x, y = get_batch(ids, BLOCK_SIZE, BATCH_SIZE, batch_generator)
    _, loss = model(x, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    recent_losses.append(loss.item())
    if step % LOG_EVERY == 0:
        print(f"step {step:4}: training loss {np.mean(recent_losses):.4f} "
              f"(mean of the last {len(recent_losses)} steps)")
        recent_losses = []
with tt.no_grad():
    loss_after = model(eval_x, eval_y)[1].item()
print(f"loss on the same 16 windows after training: {loss_after:.4f}")
print(f"{STEPS} steps took {time.perf_counter() - start:.1f} s")
print(f"the frozen weights did not move: "
      f"{np.array_equal(c_attn.base.weight.data, frozen_before)}; "
      f"B moved away from zero: max |B| = {np.abs(c_attn.lora_B.data).max():.4f}")

# ---- 4. Merging: fold (alpha / r) B A into W -------------------------------------------------
print("\n== 4. merging ==")
with tt.no_grad():
    unmerged_logits = model(eval_x)[0].data
merge_lora(model)
with tt.no_grad():
    merged_logits = model(eval_x)[0].data
n_lora = sum(isinstance(module, LoRALinear) for module in model.modules())
print(f"LoRA layers left: {n_lora}; c_attn is {model.transformer.h[0].attn.c_attn} again")
# The merged layers are as frozen as their bases were; model.requires_grad_() unfreezes all.
print_counts(model, "after merging")
print(f"merged vs unmerged logits: max abs difference "
      f"{np.abs(merged_logits - unmerged_logits).max():.2e} (float32 rounding)")

# ---- 5. Saving as an ordinary GPT-2 checkpoint -----------------------------------------------
print("\n== 5. saving and reloading ==")
with tempfile.TemporaryDirectory() as directory:
    model.save_pretrained(directory)
    for path in sorted(Path(directory).iterdir()):
        print(f"  {path.name:20} {path.stat().st_size:>10,} bytes")
    reloaded = GPT.from_pretrained(directory)
with tt.no_grad():
    reloaded_logits = reloaded(eval_x)[0].data
print(f"reloaded vs merged logits: max abs difference "
      f"{np.abs(reloaded_logits - merged_logits).max():.2e}")
