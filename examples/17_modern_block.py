"""17 - From GPT-2's block to Llama's: RMSNorm, SwiGLU and grouped-query attention.

GPT-2 (2019) and Llama, Qwen or Mistral (2023 on) stack the same block: normalise, attend,
add; normalise, feed forward, add. Three of its parts changed, each for a reason:

    LayerNorm -> RMSNorm        no mean subtracted, no bias: fewer reductions, as good in
                                practice (Zhang & Sennrich, 2019)
    GELU MLP  -> SwiGLU         a gate decides per hidden unit how much passes (Shazeer, 2020);
                                three matrices of width 8C/3 cost what two of 4C did
    multi-head -> grouped-query several query heads share one key/value head (Ainslie et al.,
                                2023): the KV cache shrinks by that factor, quality barely moves

and positions became rotary (16_positions.py), biases went away and the output head got a
matrix of its own. This walk-through builds one block of each kind at the same width, computes
the Llama block by hand in NumPy and checks it against gpt/model.py, then counts parameters
and KV-cache bytes at the sizes of real checkpoints.

Run it:              python examples/17_modern_block.py
Smaller and faster:  EXAMPLES_FAST=1 python examples/17_modern_block.py
In a debugger:       python -m pdb examples/17_modern_block.py, and stop at a line marked
                     `breakpoint:` below (the README's debugger table lists them).
Then read gpt/model.py (CausalSelfAttention, SwiGLU, make_norm), gpt/config.py (GPTConfig's
parts and parameter_count) and tinytorch/functional/ (rms_norm, swiglu_mlp, repeat_kv).
"""
import os

import numpy as np

import tinytorch as tt
from gpt import GPT, GPTConfig
from gpt.positions import rotary_tables

FAST = os.environ.get("EXAMPLES_FAST") == "1"
# B, T, C, H (query heads), H_KV (key/value heads): all different, so a shape names its sizes
B, T, C, H, H_KV = (3, 5, 24, 4, 2) if FAST else (4, 16, 96, 8, 2)
D = C // H                                              # the head size
EPS = 1e-5

np.set_printoptions(precision=4, suppress=True, linewidth=110)


def one_block(**parts):
    """A one-block model with `parts` and its block, the norms' weights made random (they
    start at 1, which would hide a missing weight in the hand computation below)."""
    config = GPTConfig(vocab_size=11, block_size=T, n_layer=1, n_head=H, n_embd=C, **parts)
    model = GPT(config, seed=0)
    block = model.transformer.h[0]
    generator = np.random.default_rng(1)
    for name, param in block.named_parameters():
        if name.startswith("ln_"):
            param.data[...] = generator.uniform(0.5, 1.5, param.shape)
    return model, block


def count(module, prefix):
    return sum(p.data.size for name, p in module.named_parameters() if name.startswith(prefix))


def silu(x):
    return x / (1.0 + np.exp(-x))


def rotate(x, cos, sin):
    """Rotary positions on x (..., T, D): each pair (i, i + D/2) turned by its angle."""
    half = x.shape[-1] // 2
    turned_half = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + turned_half * sin


# ---- 1. Two blocks of one width ----------------------------------------------------------------
print(f"== 1. a GPT-2 block and a Llama block, both of width C = {C}, {H} query heads ==")
gpt2_model, gpt2_block = one_block()
llama_model, llama_block = one_block(norm="rmsnorm", positions="rotary", mlp="swiglu",
                                      bias=False, n_kv_head=H_KV, tie_embeddings=False)
for name, block in (("GPT-2", gpt2_block), ("Llama", llama_block)):
    print(f"{name}:")
    for param_name, param in block.named_parameters():
        print(f"  {param_name:22} {str(param.shape):12} {param.data.size:7,}")
print(f"{'part':10} {'GPT-2':>8} {'Llama':>8}")
for part in ("ln_", "attn.", "mlp."):
    print(f"{part.strip('._'):10} {count(gpt2_block, part):8,} {count(llama_block, part):8,}")
print(f"{'block':10} {count(gpt2_block, ''):8,} {count(llama_block, ''):8,}")

generator = np.random.default_rng(2)
# A residual stream with an offset and a scale of its own per row, as real ones have
x = (generator.standard_normal((B, T, C)) * generator.uniform(0.5, 3.0, (B, T, 1))
     + generator.uniform(-2.0, 2.0, (B, T, 1))).astype(np.float32)                 # (B, T, C)

# ---- 2. LayerNorm -> RMSNorm -------------------------------------------------------------------
print(f"\n== 2. LayerNorm -> RMSNorm over the C = {C} features of each token ==")
ln, rms = gpt2_block.ln_1, llama_block.ln_1
mean = x.mean(axis=-1, keepdims=True)                                                 # (B, T, 1)
layer_normed = (x - mean) / np.sqrt(x.var(axis=-1, keepdims=True) + EPS) * ln.weight.data \
    + ln.bias.data
# breakpoint: `x.shape` (B, T, C), `x[0, 0].mean()` (this token's offset), then `n` and
#   `mean_square.shape` (B, T, 1: one per token), `mean_square[0, 0]`
mean_square = (x * x).mean(axis=-1, keepdims=True)                                    # (B, T, 1)
rms_normed = x / np.sqrt(mean_square + EPS) * rms.weight.data                          # (B, T, C)
print(f"LayerNorm: subtract the mean, divide by the standard deviation, scale and shift "
      f"({ln.weight.data.size + ln.bias.data.size} parameters)")
print(f"RMSNorm:   divide by the root mean square, scale ({rms.weight.data.size} parameters)")
print(f"by hand vs the modules: LayerNorm {np.abs(layer_normed - ln(tt.tensor(x)).data).max():.1e}, "
      f"RMSNorm {np.abs(rms_normed - rms(tt.tensor(x)).data).max():.1e}")
unscaled_ln = (x - mean) / np.sqrt(x.var(axis=-1, keepdims=True) + EPS)
unscaled_rms = x / np.sqrt(mean_square + EPS)
print(f"token 0 before the scale: LayerNorm's mean {unscaled_ln[0, 0].mean():+.4f}, rms "
      f"{np.sqrt((unscaled_ln[0, 0] ** 2).mean()):.4f}; RMSNorm's mean "
      f"{unscaled_rms[0, 0].mean():+.4f}, rms {np.sqrt((unscaled_rms[0, 0] ** 2).mean()):.4f}")
print("RMSNorm keeps a token's mean (the residual stream's offset passes through, scaled); "
      "only its size is fixed")

# ---- 3. GELU MLP -> SwiGLU ---------------------------------------------------------------------
F_GELU, F_SWIGLU = gpt2_model.config.mlp_hidden, llama_model.config.mlp_hidden
print(f"\n== 3. the GELU MLP (C -> {F_GELU} -> C) -> SwiGLU (C -> {F_SWIGLU} -> C, gated) ==")
mlp = llama_block.mlp
h = rms_normed                                                   # what ln_2 would hand it
gate = h @ mlp.c_gate.weight.data.T                                              # (B, T, F)
up = h @ mlp.c_fc.weight.data.T                                                  # (B, T, F)
# breakpoint: `gate.shape` (B, T, F), `silu(gate)[0, 0, :5]` (near 0 for negative gates),
#   then `n` and `swiglu_out.shape` (B, T, C)
swiglu_out = (silu(gate) * up) @ mlp.c_proj.weight.data.T                         # (B, T, C)
print(f"c_proj(silu(c_gate(h)) * c_fc(h)) by hand vs the module: "
      f"{np.abs(swiglu_out - mlp(tt.tensor(h)).data).max():.1e}")
closed = np.mean(np.abs(silu(gate)) < 0.05)
print(f"the gate nearly closes {closed:.0%} of the hidden units for these tokens (|silu| < 0.05)")
print(f"parameters: GELU 2 x C x {F_GELU} = {2 * C * F_GELU:,}; SwiGLU 3 x C x {F_SWIGLU} = "
      f"{3 * C * F_SWIGLU:,} (8C/3 = {8 * C / 3:.0f}, rounded up to a multiple of 32)")

# ---- 4. Multi-head -> grouped-query attention ---------------------------------------------------
n_rep = H // H_KV
print(f"\n== 4. multi-head ({H} key/value heads) -> grouped-query attention ({H_KV} key/value "
      f"heads) ==")
attn = llama_block.attn
print(f"c_attn {attn.c_attn.weight.shape}: q {H} x {D} = {H * D}, k {H_KV} x {D} = {H_KV * D}, "
      f"v {H_KV * D} (GPT-2's: {gpt2_block.attn.c_attn.weight.shape})")
print("query head -> the key/value head it reads: "
      + ", ".join(f"{head} -> {head // n_rep}" for head in range(H)))
cos, sin = rotary_tables(np.arange(T), llama_model.transformer.rope_frequencies)    # (T, D)
q_width, kv_width = H * D, H_KV * D
qkv = rms_normed @ attn.c_attn.weight.data.T                                      # (B, T, ...)
q = qkv[..., :q_width].reshape(B, T, H, D).transpose(0, 2, 1, 3)                   # (B, H, T, D)
k = qkv[..., q_width:q_width + kv_width].reshape(B, T, H_KV, D).transpose(0, 2, 1, 3)
v = qkv[..., q_width + kv_width:].reshape(B, T, H_KV, D).transpose(0, 2, 1, 3)  # (B, H_KV, T, D)
q, k = rotate(q, cos, sin), rotate(k, cos, sin)
# breakpoint: `k.shape` (B, H_KV, T, D), `n_rep`, then `n` and `k_shared.shape` (B, H, T, D),
#   `(k_shared[:, 0] == k_shared[:, 1]).all()` (heads 0 and 1 read one key head)
k_shared = np.repeat(k, n_rep, axis=1)                  # each key head serves n_rep query heads
v_shared = np.repeat(v, n_rep, axis=1)                                           # (B, H, T, D)
scores = q @ k_shared.transpose(0, 1, 3, 2) / np.sqrt(D)                          # (B, H, T, T)
scores = np.where(np.tril(np.ones((T, T), dtype=bool)), scores, -np.inf)
weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
weights /= weights.sum(axis=-1, keepdims=True)
heads = weights @ v_shared                                                       # (B, H, T, D)
attention_out = heads.transpose(0, 2, 1, 3).reshape(B, T, H * D) @ attn.c_proj.weight.data.T
rotary = (tt.tensor(cos), tt.tensor(sin))
print(f"attention by hand (repeat the key/value heads, then attend as usual) vs the module: "
      f"{np.abs(attention_out - attn(tt.tensor(rms_normed), rotary=rotary).data).max():.1e}")
kv_bytes = 2 * H_KV * D * 4
print(f"the KV cache keeps k and v of {H_KV} heads: {kv_bytes} bytes per token and layer in "
      f"float32, where {H} heads would take {2 * H * D * 4} ({n_rep} times as many)")

# ---- 5. The whole Llama block ------------------------------------------------------------------
print("\n== 5. the whole Llama block by hand: x + attn(rms(x)), then + swiglu(rms(.)) ==")
after_attention = x + attention_out                                                # (B, T, C)
mean_square_2 = (after_attention ** 2).mean(axis=-1, keepdims=True)
normed_2 = after_attention / np.sqrt(mean_square_2 + EPS) * llama_block.ln_2.weight.data
out = after_attention + (silu(normed_2 @ mlp.c_gate.weight.data.T)
                         * (normed_2 @ mlp.c_fc.weight.data.T)) @ mlp.c_proj.weight.data.T
block_out = llama_block(tt.tensor(x), rotary=rotary).data
print(f"block output {block_out.shape}; by hand vs gpt/model.py's Block: "
      f"{np.abs(out - block_out).max():.1e} (float32)")

# ---- 6. At real sizes --------------------------------------------------------------------------
print("\n== 6. parameters and KV cache at the sizes of real checkpoints ==")
LLAMA = dict(norm="rmsnorm", positions="rotary", mlp="swiglu", bias=False,
             tie_embeddings=False)
REAL = {
    "GPT-2 small": GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12,
                             n_embd=768),
    "Llama 2 7B": GPTConfig(vocab_size=32000, block_size=4096, n_layer=32, n_head=32,
                            n_embd=4096, mlp_hidden=11008, **LLAMA),
    "Llama 3 8B": GPTConfig(vocab_size=128256, block_size=8192, n_layer=32, n_head=32,
                            n_kv_head=8, n_embd=4096, mlp_hidden=14336, rope_theta=500000.0,
                            **LLAMA),
    "Qwen3 0.6B": GPTConfig(vocab_size=151936, block_size=40960, n_layer=28, n_head=16,
                            n_kv_head=8, head_size=128, n_embd=1024, mlp_hidden=3072,
                            qk_norm=True, rope_theta=1000000.0,
                            **{**LLAMA, "tie_embeddings": True}),
}
print(f"{'model':12} {'parameters':>15} {'kv heads':>9} {'KV/token (bf16)':>16} "
      f"{'KV at full context':>19}")
kv_per_token = {}
for name, config in REAL.items():
    kv_per_token[name] = 2 * config.n_layer * config.n_kv_head * config.head_size * 2  # k, v
    print(f"{name:12} {config.parameter_count():15,} {config.n_kv_head:>4} of {config.n_head:<3}"
          f" {kv_per_token[name] / 2 ** 10:12,.0f} KiB"
          f" {kv_per_token[name] * config.block_size / 2 ** 20:11,.0f} MiB"
          f" ({config.block_size:,} tokens)")
more = REAL["Llama 3 8B"].parameter_count() / REAL["Llama 2 7B"].parameter_count() - 1
print(f"Llama 3 8B has {more:.0%} more parameters than Llama 2 7B (most in its 128,256-token "
      f"vocabulary and wider MLP) but {kv_per_token['Llama 3 8B'] / kv_per_token['Llama 2 7B']:.0%}"
      f" of its KV cache per token: 8 key/value heads for 32 query heads")
