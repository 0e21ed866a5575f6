"""08 - The transformer block: layer norm, attention, the MLP and the residual stream.

A GPT is a stack of identical blocks. Each reads the residual stream x (B, T, C) and adds two
things to it, each computed from a normalised copy:

    x = x + attn(ln_1(x))        tokens exchange information (07_attention.py)
    x = x + mlp(ln_2(x))         each token, on its own: C -> 4C -> GELU -> C

Layer norm rescales every token's vector to mean 0 and standard deviation 1 (then applies a
learned gain and bias), so each branch sees inputs of a steady size however the stream grows.
The "+" keeps everything earlier layers wrote: a block can only add to the stream.

This file builds one block's output by hand in NumPy, printing the shape at every step, then
checks that gpt's own Block computes the same numbers, fused and composed.

Run it:              python examples/08_transformer_block.py
Smaller and faster:  EXAMPLES_FAST=1 python examples/08_transformer_block.py
In a debugger:       python -m pdb examples/08_transformer_block.py, and stop at a line marked
                     `breakpoint:` below (the README's debugger table lists them).
Then read the Block, CausalSelfAttention and MLP classes in gpt/model.py,
tinytorch/functional/normalization.py and mlp.py (the fused kernels).
"""
import math
import os
import numpy as np

import tinytorch as tt
import tinytorch.functional.composed as composed
from gpt import GPT, GPTConfig

FAST = os.environ.get("EXAMPLES_FAST") == "1"
# Every size differs from every other (and from the vocabulary's 16), so each axis of a shape
# can be told by its length alone.
B, T = 2, (5 if FAST else 10)                # batch, tokens
C, H = (24, 3) if FAST else (48, 4)          # channels (the stream's width), heads
D = C // H                                   # head size

np.set_printoptions(precision=4, suppress=True, floatmode="fixed", sign=" ", linewidth=100)


def show_shape(label, value, meaning):
    print(f"{label:42} {str(value.shape):14} {meaning}")


# ---- 1. A block, and the residual stream entering it -------------------------------------------
print("== 1. one block of a GPT, and the residual stream x entering it ==")
config = GPTConfig(vocab_size=16, block_size=T, n_layer=2, n_head=H, n_embd=C)
model = GPT(config, seed=0)
model.to(np.float64)        # float64: the hand computation and the library agree to ~1e-15
block = model.transformer.h[0]
# GPT-2's initialisation makes every layer-norm gain 1 and every bias 0, which would hide a
# mistake in how they are applied. Nudge every parameter, as training would, so each counts.
generator = np.random.default_rng(0)
for name, parameter in model.named_parameters():
    parameter.data = parameter.data + 0.1 * generator.standard_normal(parameter.shape)
print(block)
for name, parameter in block.named_parameters():
    print(f"  {name:20} {parameter.shape}")
x = 3.0 + 2.0 * generator.standard_normal((B, T, C))        # (B, T, C) mean ~3, std ~2
x_tensor = tt.tensor(x)                                     # the same numbers, for the library
show_shape("x", x, "(B, T, C)")
print(f"each token's vector in x: mean {x[0].mean(axis=-1)}, std {x[0].std(axis=-1)} "
      f"(batch 0)")

# ---- 2. Layer norm -----------------------------------------------------------------------------
print("\n== 2. layer norm: each token's C numbers to mean 0 and std 1, then gain and bias ==")
eps = config.layer_norm_epsilon         # keeps the division finite when a row is constant
mean = x.mean(axis=-1, keepdims=True)                          # (B, T, 1) one per token
variance = x.var(axis=-1, keepdims=True)                       # (B, T, 1) divided by C, not C-1
# breakpoint: `x.shape` (B, T, C), `mean.shape` (B, T, 1: one per token), `variance[0, 0]`, then `n`
#   and `x_hat[0, 0].mean()`, `x_hat[0, 0].std()` (0 and 1)
x_hat = (x - mean) / np.sqrt(variance + eps)                   # (B, T, C)
ln_1 = x_hat * block.ln_1.weight.data + block.ln_1.bias.data   # (B, T, C) gain and bias: (C,)
show_shape("mean = x.mean(-1)", mean, "(B, T, 1) one per token")
show_shape("variance = x.var(-1)", variance, "(B, T, 1)")
show_shape("x_hat = (x - mean) / sqrt(variance + eps)", x_hat, "(B, T, C)")
show_shape("ln_1 = x_hat * weight + bias", ln_1, "(B, T, C)")
# (rounded, + 0.0: a mean of -1e-17 would otherwise print as -0.0000)
print(f"rows of x_hat: mean {np.round(x_hat[0].mean(axis=-1), 4) + 0.0}")
print(f"               std  {x_hat[0].std(axis=-1)}")
print(f"max |ln_1 by hand - block.ln_1(x)|: "
      f"{np.max(np.abs(ln_1 - block.ln_1(x_tensor).data)):.2e}")

# ---- 3. Attention ------------------------------------------------------------------------------
print("\n== 3. causal self-attention over ln_1 (07_attention.py takes it apart) ==")
attn = block.attn
qkv = ln_1 @ attn.c_attn.weight.data.T + attn.c_attn.bias.data              # (B, T, 3C)
q, k, v = np.split(qkv, 3, axis=-1)                                         # (B, T, C) each
q, k, v = (t.reshape(B, T, H, D).transpose(0, 2, 1, 3) for t in (q, k, v))  # (B, H, T, D)
scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(D)                         # (B, H, T, T)
future = np.triu(np.ones((T, T), dtype=bool), k=1)          # True where the key comes later
scores = np.where(future, -np.inf, scores)
att_weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
att_weights /= att_weights.sum(axis=-1, keepdims=True)                      # (B, H, T, T)
heads = att_weights @ v                                                     # (B, H, T, D)
merged = heads.transpose(0, 2, 1, 3).reshape(B, T, C)                       # (B, T, C)
attn_out = merged @ attn.c_proj.weight.data.T + attn.c_proj.bias.data       # (B, T, C)
show_shape("qkv = ln_1 @ c_attn.weight^T + bias", qkv, "(B, T, 3C)")
show_shape("q, k, v split into heads", q, "(B, H, T, D) each")
show_shape("scores = q @ k^T / sqrt(D), masked", scores, "(B, H, T, T)")
show_shape("att_weights = softmax(scores)", att_weights, "(B, H, T, T) rows sum to 1")
show_shape("heads = att_weights @ v", heads, "(B, H, T, D)")
show_shape("merged: heads side by side", merged, "(B, T, C)")
show_shape("attn_out = merged @ c_proj.weight^T + b", attn_out, "(B, T, C)")
print(f"max |attn_out by hand - block.attn(ln_1)|: "
      f"{np.max(np.abs(attn_out - block.attn(tt.tensor(ln_1)).data)):.2e}")

# ---- 4. The first residual connection ----------------------------------------------------------
print("\n== 4. the residual stream: x + attn_out, so nothing in x is lost ==")
x_mid = x + attn_out                                                        # (B, T, C)
show_shape("x_mid = x + attn_out", x_mid, "(B, T, C)")
print(f"size of each token's vector (norm), batch 0:\n"
      f"  x        {np.linalg.norm(x[0], axis=-1)}\n"
      f"  attn_out {np.linalg.norm(attn_out[0], axis=-1)}\n"
      f"  x_mid    {np.linalg.norm(x_mid[0], axis=-1)}")

# ---- 5. The MLP --------------------------------------------------------------------------------
print("\n== 5. the MLP over ln_2(x_mid): C -> 4C -> GELU -> C, each token on its own ==")
mean = x_mid.mean(axis=-1, keepdims=True)
variance = x_mid.var(axis=-1, keepdims=True)
ln_2 = (x_mid - mean) / np.sqrt(variance + eps) * block.ln_2.weight.data + block.ln_2.bias.data
mlp = block.mlp
hidden = ln_2 @ mlp.c_fc.weight.data.T + mlp.c_fc.bias.data                 # (B, T, 4C)
# GPT-2's GELU (tanh form): about x for large x, about 0 for very negative x, smooth between
gelu = 0.5 * hidden * (1.0 + np.tanh(math.sqrt(2.0 / math.pi)
                                     * (hidden + 0.044715 * hidden ** 3)))
mlp_out = gelu @ mlp.c_proj.weight.data.T + mlp.c_proj.bias.data            # (B, T, C)
show_shape("ln_2 = layer_norm(x_mid)", ln_2, "(B, T, C)")
show_shape("hidden = ln_2 @ c_fc.weight^T + bias", hidden, "(B, T, 4C): four times wider")
show_shape("gelu = GELU(hidden)", gelu, "(B, T, 4C)")
show_shape("mlp_out = gelu @ c_proj.weight^T + bias", mlp_out, "(B, T, C): back to C")
u = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0])
gelu_u = 0.5 * u * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (u + 0.044715 * u ** 3)))
print(f"GELU at {u}:\n        {gelu_u}\n(ReLU:  {np.maximum(u, 0.0)})")
print(f"max |mlp_out by hand - block.mlp(ln_2)|: "
      f"{np.max(np.abs(mlp_out - block.mlp(tt.tensor(ln_2)).data)):.2e}")

# ---- 6. The whole block ------------------------------------------------------------------------
print("\n== 6. the block's output: x + attn(ln_1(x)) + mlp(ln_2(...)) ==")
x_out = x_mid + mlp_out                                                     # (B, T, C)
show_shape("x_out = x_mid + mlp_out", x_out, "(B, T, C): the shape it came in with")
block_out = block(x_tensor)
print(f"max |x_out by hand - block(x)|:         {np.max(np.abs(x_out - block_out.data)):.2e}")
# The same block computed op by op (the path to step through): the composed function set
# instead of the fused kernels (a GPT picks it from config.fused), the same weights.
composed_out = block(x_tensor, composed)
print(f"max |x_out by hand - composed block(x)|: {np.max(np.abs(x_out - composed_out.data)):.2e}")
print("the fused block's graph: the two Adds are the residual stream, each with its branch")
print(tt.graph.tree(block_out, {"x": x_tensor, **dict(block.named_parameters())}))
n_composed = len(list(tt.graph.nodes(composed_out)))
print(f"the composed block's graph has {n_composed} nodes, the fused one "
      f"{len(list(tt.graph.nodes(block_out)))}")

# ---- 7. The model: embeddings, blocks, final layer norm, LM head ------------------------------
print(f"\n== 7. a GPT is a stack of these: {config.n_layer} blocks between the embeddings and "
      f"the head ==")
idx = generator.integers(0, config.vocab_size, size=(B, T))                # (B, T) token ids
body = model.transformer
stream = body.wte(idx) + body.wpe(np.arange(T))                            # (B, T, C)
show_shape("wte(idx) + wpe(0..T-1)", stream, "(B, T, C)")
for layer, each_block in enumerate(body.h):
    stream = each_block(stream)
    show_shape(f"after block {layer}", stream, "(B, T, C)")
stream = body.ln_f(stream)
show_shape("ln_f", stream, "(B, T, C)")
logits = stream @ body.wte.weight.T                         # the LM head is wte, transposed
show_shape("logits = ln_f(x) @ wte^T", logits, "(B, T, V): a score per vocabulary entry")
model_logits, _ = model(idx)
print(f"max |these logits - model(idx) logits|: "
      f"{np.max(np.abs(logits.data - model_logits.data)):.2e}")
