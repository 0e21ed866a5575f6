"""GPT-2: token and position embeddings, a stack of transformer blocks, and a tied LM head.

    idx (B, T) token ids
      -> wte[idx] + wpe[0..T)                          (B, T, C)   embeddings
      -> dropout
      -> n_layer x Block:                              (B, T, C)   the residual stream
           x = x + attn(ln_1(x))                                   tokens exchange information
           x = x + mlp(ln_2(x))                                    each token thinks alone
      -> ln_f                                                      (Transformer: the body)
      -> @ wte^T                                       (B, T, V)   the LM head (GPT.head)

The body, `Transformer`, turns token ids into hidden states; a head turns those into what a
task needs: `GPT` puts the LM head on it, gpt.finetune.classifier a classifier's head.

Every computation goes through `functional`: `tinytorch.functional` (fused kernels, the
default) or `tinytorch.functional.composed` (primitive ops, to step through), picked once per
forward pass by `config.fused`; both give the same numbers. Parameter names follow GPT-2's own.

Hooks read or replace activations by name while the model runs (see `Hooks`):

    with model.hooks({"h.1.resid": keep, "h.0.attn.heads": zero_head_3}):
        logits, loss = model(idx, targets)
"""
import contextlib
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
from .seeds import stream


def functional_for(config):
    """The function set a forward pass uses: fused kernels or composed primitive ops."""
    return F if config.fused else composed


class Hooks:
    """Functions called on named activations as a forward pass computes them.

    A function gets the activation (a Tensor) and returns None to leave it as it is (reading),
    or a Tensor of the same shape that the model goes on with instead (replacing). The names:

        embed              the residual stream entering block 0           (B, T, C)
        h.{i}.attn.weights block i's attention weights                    (B, H, T, T_keys)
        h.{i}.attn.heads   each head's output, before c_proj mixes them   (B, H, T, D)
        h.{i}.resid        the residual stream leaving block i            (B, T, C)

    With no function registered a point costs one dict lookup; the attention weights are only
    formed when a function asks for them (the fused kernel never holds them).
    """

    def __init__(self, names):
        self.names = frozenset(names)
        self.functions = {}

    def __call__(self, name, value):
        function = self.functions.get(name)
        if function is None:
            return value
        replaced = function(value)
        return value if replaced is None else replaced

    def __contains__(self, name):
        return name in self.functions

    @contextlib.contextmanager
    def using(self, functions):
        """Register {name: function} inside the block, and no longer after it."""
        unknown = sorted(set(functions) - self.names)
        if unknown:
            raise KeyError(f"no activation named {unknown[0]!r}; the names are embed, "
                           f"h.<i>.attn.weights, h.<i>.attn.heads and h.<i>.resid for blocks "
                           f"0 to {sum(name.endswith('.resid') for name in self.names) - 1}")
        if self.functions:
            raise RuntimeError("hooks are already in use; combine them in one hooks({...})")
        self.functions = dict(functions)
        try:
            yield self
        finally:
            self.functions = {}


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where each position sees itself and the positions before it."""

    def __init__(self, config, layer, dropout_generator):
        super().__init__()
        self.config, self.dropout_generator = config, dropout_generator
        self.layer = layer                                    # which KV cache slot is ours
        self.hook_weights, self.hook_heads = f"h.{layer}.attn.weights", f"h.{layer}.attn.heads"
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)

    def forward(self, x, functional=F, kv_cache=None, hooks=None):
        """x (B, T, C) -> (B, T, C). With a KV cache, x holds only the new positions."""
        config = self.config
        B, T, C = x.shape
        H, D = config.n_head, config.head_size
        qkv = self.c_attn(x, functional)                                       # (B, T, 3C)
        q, k, v = qkv.split(C, dim=2)                                          # (B, T, C)
        q, k, v = (t.reshape(B, T, H, D).transpose(1, 2) for t in (q, k, v))   # (B, H, T, D)
        if kv_cache is not None:
            k, v = kv_cache.update(self.layer, k, v)             # (B, H, cached + T, D)
        dropout_p = config.dropout if self.training else 0.0
        if hooks is not None and self.hook_weights in hooks:
            y = self.attend_with_weights(q, k, v, functional, dropout_p, hooks)
        else:
            y = functional.scaled_dot_product_attention(q, k, v, is_causal=True,
                                                        dropout_p=dropout_p,
                                                        generator=self.dropout_generator)
        if hooks is not None:
            y = hooks(self.hook_heads, y)                                      # (B, H, T, D)
        y = y.transpose(1, 2).reshape(B, T, C)                   # heads side by side again
        y = self.c_proj(y, functional)
        return functional.dropout(y, config.dropout, self.training, self.dropout_generator)

    def attend_with_weights(self, q, k, v, functional, dropout_p, hooks):
        """Attention with the weights (B, H, T, Tk) formed for a hook to read or replace. They
        are the weights the fused kernel computes (F.attention_weights shares its code), held
        as a tensor without a graph. A hook that only reads leaves attention as it is without
        one (the same numbers, the same graph); weights it replaces are used as they are: for
        looking inside, not for training through them."""
        seen = F.attention_weights(q, k, is_causal=True)
        weights = hooks(self.hook_weights, seen)
        if weights is seen:                # read, not replaced: attend as without the hook
            return functional.scaled_dot_product_attention(
                q, k, v, is_causal=True, dropout_p=dropout_p, generator=self.dropout_generator)
        weights = functional.dropout(weights, dropout_p, dropout_p > 0.0,
                                     self.dropout_generator)
        return weights @ v


class MLP(nn.Module):
    """Position-wise feed-forward network: C -> 4C -> GELU -> C."""

    def __init__(self, config, dropout_generator):
        super().__init__()
        self.config, self.dropout_generator = config, dropout_generator
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)

    def forward(self, x, functional=F):
        """x (B, T, C) -> (B, T, C)."""
        # Each layer gives the weight and bias it computes with (`affine`), so the whole MLP
        # runs as one kernel whatever the layers are (a LoRA-wrapped layer gives W + s B A).
        w_fc, b_fc = self.c_fc.affine()
        w_proj, b_proj = self.c_proj.affine()
        y = functional.gelu_mlp(x, w_fc, b_fc, w_proj, b_proj)
        return functional.dropout(y, self.config.dropout, self.training, self.dropout_generator)


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(ln_1(x)), then + mlp(ln_2(x))."""

    def __init__(self, config, layer, dropout_generator):
        super().__init__()
        self.hook_resid = f"h.{layer}.resid"
        self.ln_1 = nn.LayerNorm(config.n_embd, config.layer_norm_epsilon, bias=config.bias)
        self.attn = CausalSelfAttention(config, layer, dropout_generator)
        self.ln_2 = nn.LayerNorm(config.n_embd, config.layer_norm_epsilon, bias=config.bias)
        self.mlp = MLP(config, dropout_generator)

    def forward(self, x, functional=F, kv_cache=None, hooks=None):
        x = x + self.attn(self.ln_1(x, functional), functional, kv_cache, hooks)
        x = x + self.mlp(self.ln_2(x, functional), functional)
        return x if hooks is None else hooks(self.hook_resid, x)


class Transformer(nn.Module):
    """The body of GPT-2, named as in its checkpoints: wte, wpe, h.0 ... h.{n-1}, ln_f.

    forward(idx (B, T), kv_cache=None) -> hidden states (B, T, C), after ln_f.
    """

    def __init__(self, config, dropout_generator):
        super().__init__()
        self.config, self.dropout_generator = config, dropout_generator
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)    # token embeddings
        self.wpe = nn.Embedding(config.block_size, config.n_embd)    # position embeddings
        self.h = nn.ModuleList(Block(config, layer, dropout_generator)
                               for layer in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, config.layer_norm_epsilon, bias=config.bias)
        self.hooks = Hooks(["embed"] + [f"h.{i}.{point}" for i in range(config.n_layer)
                                        for point in ("attn.weights", "attn.heads", "resid")])

    def forward(self, idx, kv_cache=None, functional=None):
        """idx (B, T) int token ids -> the final layer-normed residual stream (B, T, C). With
        a KV cache, idx holds only the positions after those it has stored."""
        config = self.config
        functional = functional or functional_for(config)
        hooks = self.hooks if self.hooks.functions else None       # nothing to do: no calls
        idx = check_idx(idx)
        start = 0 if kv_cache is None else kv_cache.length
        T = idx.shape[1]
        if start + T > config.block_size:
            raise ValueError(f"a sequence of {start + T} tokens is longer than the model's "
                             f"context of block_size={config.block_size} tokens")
        positions = np.arange(start, start + T)
        x = self.wte(idx, functional) + self.wpe(positions, functional)
        x = functional.dropout(x, config.dropout, self.training, self.dropout_generator)
        if hooks is not None:
            x = hooks("embed", x)
        for block in self.h:
            x = block(x, functional, kv_cache, hooks)
        if kv_cache is not None:
            kv_cache.advance(T)
        return self.ln_f(x, functional)


def init_gpt2_weights(module, n_layer, generator):
    """GPT-2's initialisation of `module`'s layers: N(0, 0.02) for weights and embeddings, zero
    biases, and N(0, 0.02 / sqrt(2 n_layer)) for the projections that write into the residual
    stream (c_proj), so that its variance does not grow with depth (each block adds two)."""
    residual_std = 0.02 / math.sqrt(2 * n_layer)
    for name, layer in module.named_modules():
        if isinstance(layer, (nn.Linear, nn.Embedding)):
            std = residual_std if name.endswith("c_proj") else 0.02
            nn.init.normal_(layer.weight, 0.0, std, generator)
        if isinstance(layer, nn.Linear) and layer.bias is not None:
            nn.init.zeros_(layer.bias)


class GPT(nn.Module):
    """A GPT-2 language model: the body and an LM head.

        model = GPT(GPTConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128),
                    seed=0)
        logits, loss = model(idx, targets)      # idx, targets: int arrays (B, T)

    The LM head is tied to the token embedding: logits = ln_f(x) @ wte^T, one parameter that
    receives both gradients. `seed` fixes the initial weights and the dropout masks, each from
    its own stream (gpt.seeds), so the same seed gives the same weights with dropout or not.
    """

    def __init__(self, config, seed=None):
        super().__init__()
        check_model_fits(config)         # say so now, not by the kernel killing the process
        self.config = config
        self.dropout_generator = stream("dropout", seed)
        self.transformer = Transformer(config, self.dropout_generator)
        init_gpt2_weights(self, config.n_layer, stream("weights", seed))

    def forward(self, idx, targets=None, kv_cache=None):
        """idx (B, T) int token ids -> (logits (B, T, V), loss or None).

        targets (B, T) int: the next token at each position; -100 marks positions to ignore.
        kv_cache: a KVCache for generation (then idx holds only the new positions).
        """
        functional = functional_for(self.config)
        hidden = self.transformer(idx, kv_cache, functional)                      # (B, T, C)
        logits = functional.linear(hidden, self.transformer.wte.weight)           # (B, T, V)
        loss = None
        if targets is not None:
            loss = self.loss(logits, targets, functional)
        return logits, loss

    def head(self, hidden):
        """The LM head: logits (..., V) from hidden states (..., C), tied to wte."""
        return functional_for(self.config).linear(hidden, self.transformer.wte.weight)

    def loss(self, logits, targets, functional=None):
        """Mean cross-entropy of logits (B, T, V) against targets (B, T), ignoring -100."""
        functional = functional or functional_for(self.config)
        targets = targets.data if isinstance(targets, tt.Tensor) else np.asarray(targets)
        if targets.shape != logits.shape[:2]:
            raise ValueError(f"targets {targets.shape} do not match idx {logits.shape[:2]}")
        V = logits.shape[-1]
        return functional.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))

    def hooks(self, functions):
        """A context in which {name: function} are called on the named activations (see
        Hooks): `with model.hooks({"h.0.resid": keep}): model(idx)`."""
        return self.transformer.hooks.using(functions)

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
