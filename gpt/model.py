"""GPT-2: token and position embeddings, a stack of transformer blocks, and a tied LM head.

    idx (B, T) token ids
      -> wte[idx] + wpe[0..T)                          (B, T, C)   embeddings
      -> dropout
      -> n_layer x Block:                              (B, T, C)   the residual stream
           x = x + attn(ln_1(x))                                   tokens exchange information
           x = x + mlp(ln_2(x))                                    each token thinks alone
      -> ln_f
      -> @ wte^T                                       (B, T, V)   logits for the next token

Every computation goes through `ops`, which is `tinytorch.functional` (fused kernels, the
default) or `tinytorch.functional.composed` (primitive ops, for stepping through), chosen by
`config.fused` at each call; both give the same numbers. Parameter names follow GPT-2's own.
"""
import math

import numpy as np

import tinytorch as tt
import tinytorch.functional as F
import tinytorch.functional.composed as composed
from tinytorch import nn

from .config import check_idx
from .generate import generate
from .hf_checkpoint import load_pretrained, save_pretrained
from .safeguards.memory import check_model_fits


def functions(config):
    """The function set a forward pass uses: fused kernels or composed primitive ops."""
    return F if config.fused else composed


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where each position sees itself and the positions before it."""

    def __init__(self, config, dropout_generator):
        super().__init__()
        self.config, self.dropout_generator = config, dropout_generator
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)

    def forward(self, x, kv_cache=None, layer=0):
        """x (B, T, C) -> (B, T, C). With a KV cache, x holds only the new positions."""
        config, ops = self.config, functions(self.config)
        B, T, C = x.shape
        H, D = config.n_head, config.head_size
        qkv = self.c_attn(x, ops)                                              # (B, T, 3C)
        q, k, v = qkv.split(C, dim=2)                                          # (B, T, C)
        q, k, v = (t.reshape(B, T, H, D).transpose(1, 2) for t in (q, k, v))   # (B, H, T, D)
        if kv_cache is not None:
            k, v = kv_cache.update(layer, k, v)                  # (B, H, cached + T, D)
        dropout_p = config.dropout if self.training else 0.0
        y = ops.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=dropout_p,
                                             generator=self.dropout_generator)  # (B, H, T, D)
        y = y.transpose(1, 2).reshape(B, T, C)                   # heads side by side again
        y = self.c_proj(y, ops)
        return ops.dropout(y, config.dropout, self.training, self.dropout_generator)


class MLP(nn.Module):
    """Position-wise feed-forward network: C -> 4C -> GELU -> C."""

    def __init__(self, config, dropout_generator):
        super().__init__()
        self.config, self.dropout_generator = config, dropout_generator
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)

    def forward(self, x):
        """x (B, T, C) -> (B, T, C)."""
        config, ops = self.config, functions(self.config)
        # The whole-MLP kernel takes plain Linear layers' weights (not, say, LoRA-wrapped ones).
        if isinstance(self.c_fc, nn.Linear) and isinstance(self.c_proj, nn.Linear):
            y = ops.gelu_mlp(x, self.c_fc.weight, self.c_fc.bias,
                             self.c_proj.weight, self.c_proj.bias)
        else:
            hidden = self.c_fc(x, ops)                                           # (B, T, 4C)
            y = self.c_proj(ops.gelu(hidden), ops)
        return ops.dropout(y, config.dropout, self.training, self.dropout_generator)


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(ln_1(x)), then + mlp(ln_2(x))."""

    def __init__(self, config, dropout_generator):
        super().__init__()
        self.config = config
        self.ln_1 = nn.LayerNorm(config.n_embd, config.layer_norm_epsilon, bias=config.bias)
        self.attn = CausalSelfAttention(config, dropout_generator)
        self.ln_2 = nn.LayerNorm(config.n_embd, config.layer_norm_epsilon, bias=config.bias)
        self.mlp = MLP(config, dropout_generator)

    def forward(self, x, kv_cache=None, layer=0):
        ops = functions(self.config)
        x = x + self.attn(self.ln_1(x, ops), kv_cache, layer)
        return x + self.mlp(self.ln_2(x, ops))


class Transformer(nn.Module):
    """The body of GPT-2, named as in its checkpoints: wte, wpe, h.0 ... h.{n-1}, ln_f."""

    def __init__(self, config, dropout_generator):
        super().__init__()
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)    # token embeddings
        self.wpe = nn.Embedding(config.block_size, config.n_embd)    # position embeddings
        self.h = nn.ModuleList(Block(config, dropout_generator) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, config.layer_norm_epsilon, bias=config.bias)


class GPT(nn.Module):
    """A GPT-2 language model.

        model = GPT(GPTConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128),
                    seed=0)
        logits, loss = model(idx, targets)      # idx, targets: int arrays (B, T)

    The LM head is tied to the token embedding: logits = ln_f(x) @ wte^T, one parameter that
    receives both gradients. `seed` fixes the initial weights and the dropout masks.
    """

    def __init__(self, config, seed=None):
        super().__init__()
        check_model_fits(config)         # say so now, not by the kernel killing the process
        self.config = config
        # Dropout draws from its own generator, so the same seed gives the same weights
        # whether or not dropout is on.
        self.dropout_generator = np.random.default_rng(None if seed is None else [seed, 1])
        self.transformer = Transformer(config, self.dropout_generator)
        self._init_weights(np.random.default_rng(seed))

    def _init_weights(self, generator):
        """GPT-2's initialisation: N(0, 0.02) for weights and embeddings, zero biases, and
        N(0, 0.02 / sqrt(2 n_layer)) for the projections that write into the residual
        stream, so that its variance does not grow with depth (each block adds two)."""
        residual_std = 0.02 / math.sqrt(2 * self.config.n_layer)
        for name, module in self.named_modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                std = residual_std if name.endswith("c_proj") else 0.02
                nn.init.normal_(module.weight, 0.0, std, generator)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)

    def forward(self, idx, targets=None, kv_cache=None):
        """idx (B, T) int token ids -> (logits (B, T, V), loss or None).

        targets (B, T) int: the next token at each position; -100 marks positions to ignore.
        kv_cache: a KVCache for generation (then idx holds only the new positions).
        """
        logits = self.head(self.hidden_states(idx, kv_cache))                      # (B, T, V)
        loss = None
        if targets is not None:
            loss = self.loss(logits, targets)
        return logits, loss

    def hidden_states(self, idx, kv_cache=None):
        """The final layer-normed residual stream (B, T, C), before the LM head."""
        config, ops, body = self.config, functions(self.config), self.transformer
        idx = check_idx(idx)
        start = 0 if kv_cache is None else kv_cache.length
        T = idx.shape[1]
        if start + T > config.block_size:
            raise ValueError(f"a sequence of {start + T} tokens is longer than the model's "
                             f"context of block_size={config.block_size} tokens")
        positions = np.arange(start, start + T)
        x = body.wte(idx, ops) + body.wpe(positions, ops)
        x = ops.dropout(x, config.dropout, self.training, self.dropout_generator)
        for layer, block in enumerate(body.h):
            x = block(x, kv_cache, layer)
        if kv_cache is not None:
            kv_cache.advance(T)
        return body.ln_f(x, ops)

    def head(self, hidden):
        """The LM head: logits (..., V) from hidden states (..., C), tied to wte."""
        return functions(self.config).linear(hidden, self.transformer.wte.weight)

    def loss(self, logits, targets):
        """Mean cross-entropy of logits (B, T, V) against targets (B, T), ignoring -100."""
        targets = targets.data if isinstance(targets, tt.Tensor) else np.asarray(targets)
        if targets.shape != logits.shape[:2]:
            raise ValueError(f"targets {targets.shape} do not match idx {logits.shape[:2]}")
        V = logits.shape[-1]
        return functions(self.config).cross_entropy(logits.reshape(-1, V), targets.reshape(-1))

    def num_parameters(self, non_embedding=False):
        """Number of parameters (the tied head counted once); non_embedding leaves out the
        position embeddings, as GPT-2's paper counts."""
        total = sum(p.numel() for p in self.parameters())
        return total - self.transformer.wpe.weight.numel() if non_embedding else total

    def extra_repr(self):
        c = self.config
        return (f"vocab_size={c.vocab_size}, block_size={c.block_size}, n_layer={c.n_layer}, "
                f"n_head={c.n_head}, n_embd={c.n_embd}, dropout={c.dropout}, bias={c.bias}, "
                f"fused={c.fused}, parameters={self.num_parameters():,}")

    # ----- checkpoints and generation live in their own files -------------------------------

    @classmethod
    def from_pretrained(cls, directory, fused=True):
        """A GPT-2 from a Hugging Face directory (config.json + model.safetensors)."""
        return load_pretrained(cls, directory, fused=fused)

    def save_pretrained(self, directory, extra_config=None):
        """Write config.json and model.safetensors in Hugging Face's GPT-2 layout;
        extra_config adds config.json entries (e.g. the tokenizer's eos_token_id)."""
        save_pretrained(self, directory, extra_config)

    # The loop of gpt/generate.py, with this model as its first argument: `model.generate(idx,
    # 20)` is `generate(model, idx, 20)`, and `s` in a debugger steps straight into it.
    generate = generate
