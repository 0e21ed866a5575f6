"""GPT-2 (and, by a choice of parts, Llama and Qwen): token embeddings, positions, a stack of
transformer blocks, and an LM head.

    idx (B, T) token ids
      -> wte[idx] (+ wpe[0..T) for learned positions)   (B, T, C)   embeddings
      -> dropout
      -> n_layer x Block:                              (B, T, C)   the residual stream
           x = x + attn(ln_1(x))                                   tokens exchange information
           x = x + mlp(ln_2(x))                                    each token thinks alone
      -> ln_f                                                      (Transformer: the body)
      -> @ wte^T (tied) or lm_head                     (B, T, V)   the LM head (GPT.head)

The parts (gpt.config): ln_1, ln_2 and ln_f are LayerNorm or RMSNorm; positions are a learned
table (wpe), a fixed sinusoidal one, or rotary (q and k turned inside attention); the MLP is
GELU (c_fc, c_proj) or SwiGLU (c_gate, c_fc, c_proj); attention has n_head query heads and
n_kv_head key/value heads. The names stay GPT-2's whatever the parts, so one model reads every
family; gpt.hf_checkpoint maps each family's own names.

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
from .positions import rope_inverse_frequencies, rotary_tables, sinusoidal_positions
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
        if replaced is None:
            return value
        if not isinstance(replaced, tt.Tensor) or replaced.shape != value.shape:
            raise ValueError(f"the hook on {name} must return None or a Tensor of shape "
                             f"{value.shape}, got {getattr(replaced, 'shape', type(replaced))}")
        return replaced

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


def make_norm(config, size):
    """The normalisation the config asks for, over `size` features."""
    if config.norm == "rmsnorm":
        return nn.RMSNorm(size, config.layer_norm_epsilon)
    return nn.LayerNorm(size, config.layer_norm_epsilon, bias=config.norm_bias)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where each position sees itself and the positions before it.

    c_attn makes the queries of n_head heads and the keys and values of n_kv_head heads in one
    product (Hugging Face's q_proj, k_proj and v_proj side by side); c_proj mixes the heads'
    outputs. With fewer key/value heads (grouped-query attention) each serves
    n_head / n_kv_head query heads, and the KV cache holds only those.
    """

    def __init__(self, config, layer, dropout_generator):
        super().__init__()
        self.config, self.dropout_generator = config, dropout_generator
        self.layer = layer                                    # which KV cache slot is ours
        self.hook_weights, self.hook_heads = f"h.{layer}.attn.weights", f"h.{layer}.attn.heads"
        C, D = config.n_embd, config.head_size
        self.widths = [config.n_head * D, config.n_kv_head * D, config.n_kv_head * D]  # q, k, v
        self.c_attn = nn.Linear(C, sum(self.widths), bias=config.qkv_bias)
        self.c_proj = nn.Linear(config.n_head * D, C, bias=config.proj_bias)
        if config.qk_norm:                            # Qwen3: each head's q and k normalised
            self.q_norm = nn.RMSNorm(D, config.layer_norm_epsilon)
            self.k_norm = nn.RMSNorm(D, config.layer_norm_epsilon)

    def forward(self, x, functional=F, kv_cache=None, hooks=None, rotary=None):
        """x (B, T, C) -> (B, T, C). With a KV cache, x holds only the new positions. rotary:
        the (cos, sin) tables (T, D) of these positions when positions are rotary."""
        config = self.config
        B, T, _ = x.shape
        H, Hkv, D = config.n_head, config.n_kv_head, config.head_size
        q, k, v = self.c_attn(x, functional).split(self.widths, dim=2)         # (B, T, H*D) ..
        q = q.reshape(B, T, H, D).transpose(1, 2)                               # (B, H, T, D)
        k, v = (t.reshape(B, T, Hkv, D).transpose(1, 2) for t in (k, v))       # (B, Hkv, T, D)
        if config.qk_norm:
            q, k = self.q_norm(q, functional), self.k_norm(k, functional)
        if rotary is not None:                   # turned by position before they are stored
            q, k = (functional.rotary_embedding(t, *rotary) for t in (q, k))
        if kv_cache is not None:
            k, v = kv_cache.update(self.layer, k, v)             # (B, Hkv, cached + T, D)
        dropout_p = config.dropout if self.training else 0.0
        if hooks is not None and self.hook_weights in hooks:
            y = self.attend_with_weights(q, k, v, functional, dropout_p, hooks)
        else:
            y = functional.scaled_dot_product_attention(q, k, v, is_causal=True,
                                                        dropout_p=dropout_p,
                                                        generator=self.dropout_generator,
                                                        enable_gqa=Hkv != H)
        if hooks is not None:
            y = hooks(self.hook_heads, y)                                      # (B, H, T, D)
        y = y.transpose(1, 2).reshape(B, T, H * D)               # heads side by side again
        y = self.c_proj(y, functional)
        return functional.dropout(y, config.dropout, self.training, self.dropout_generator)

    def attend_with_weights(self, q, k, v, functional, dropout_p, hooks):
        """Attention with the weights (B, H, T, Tk) formed for a hook to read or replace. They
        are the weights the fused kernel computes (F.attention_weights shares its code), held
        as a tensor without a graph. A hook that only reads leaves attention as it is without
        one (the same numbers, the same graph); weights it replaces are used as they are: for
        looking inside, not for training through them."""
        n_rep = self.config.n_head // self.config.n_kv_head
        seen = F.attention_weights(q, k, is_causal=True, enable_gqa=n_rep > 1)
        weights = hooks(self.hook_weights, seen)
        if weights is seen:                # read, not replaced: attend as without the hook
            return functional.scaled_dot_product_attention(
                q, k, v, is_causal=True, dropout_p=dropout_p, generator=self.dropout_generator,
                enable_gqa=n_rep > 1)
        weights = functional.dropout(weights, dropout_p, dropout_p > 0.0,
                                     self.dropout_generator)
        return weights @ (composed.repeat_kv(v, n_rep) if n_rep > 1 else v)


class MLP(nn.Module):
    """GPT-2's position-wise feed-forward network: C -> F (4C) -> GELU -> C."""

    def __init__(self, config, dropout_generator):
        super().__init__()
        self.config, self.dropout_generator = config, dropout_generator
        self.c_fc = nn.Linear(config.n_embd, config.mlp_hidden, bias=config.mlp_bias)
        self.c_proj = nn.Linear(config.mlp_hidden, config.n_embd, bias=config.mlp_bias)

    def forward(self, x, functional=F):
        """x (B, T, C) -> (B, T, C)."""
        # Each layer gives the weight and bias it computes with (`affine`), so the whole MLP
        # runs as one kernel whatever the layers are (a LoRA-wrapped layer gives W + s B A).
        w_fc, b_fc = self.c_fc.affine()
        w_proj, b_proj = self.c_proj.affine()
        y = functional.gelu_mlp(x, w_fc, b_fc, w_proj, b_proj)
        return functional.dropout(y, self.config.dropout, self.training, self.dropout_generator)


class SwiGLU(nn.Module):
    """Llama's feed-forward network: c_proj(silu(c_gate(x)) * c_fc(x)), C -> F -> C. The gate
    decides, per hidden unit, how much of c_fc's value passes (Shazeer 2020); with three
    matrices, F = 8C/3 gives the parameters of GPT-2's 4C with two."""

    def __init__(self, config, dropout_generator):
        super().__init__()
        self.config, self.dropout_generator = config, dropout_generator
        self.c_gate = nn.Linear(config.n_embd, config.mlp_hidden, bias=config.mlp_bias)
        self.c_fc = nn.Linear(config.n_embd, config.mlp_hidden, bias=config.mlp_bias)
        self.c_proj = nn.Linear(config.mlp_hidden, config.n_embd, bias=config.mlp_bias)

    def forward(self, x, functional=F):
        """x (B, T, C) -> (B, T, C)."""
        w_gate, b_gate = self.c_gate.affine()
        w_fc, b_fc = self.c_fc.affine()
        w_proj, b_proj = self.c_proj.affine()
        y = functional.swiglu_mlp(x, w_gate, w_fc, w_proj, b_gate, b_fc, b_proj)
        return functional.dropout(y, self.config.dropout, self.training, self.dropout_generator)


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln_1(x)), then + mlp(ln_2(x))."""

    def __init__(self, config, layer, dropout_generator):
        super().__init__()
        self.hook_resid = f"h.{layer}.resid"
        self.ln_1 = make_norm(config, config.n_embd)
        self.attn = CausalSelfAttention(config, layer, dropout_generator)
        self.ln_2 = make_norm(config, config.n_embd)
        self.mlp = (SwiGLU if config.mlp == "swiglu" else MLP)(config, dropout_generator)

    def forward(self, x, functional=F, kv_cache=None, hooks=None, rotary=None):
        x = x + self.attn(self.ln_1(x, functional), functional, kv_cache, hooks, rotary)
        x = x + self.mlp(self.ln_2(x, functional), functional)
        return x if hooks is None else hooks(self.hook_resid, x)


class Transformer(nn.Module):
    """The body, named as GPT-2's checkpoints name it: wte, wpe (learned positions only),
    h.0 ... h.{n-1}, ln_f.

    forward(idx (B, T), kv_cache=None) -> hidden states (B, T, C), after ln_f.
    """

    def __init__(self, config, dropout_generator):
        super().__init__()
        self.config, self.dropout_generator = config, dropout_generator
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)    # token embeddings
        if config.positions == "learned":
            self.wpe = nn.Embedding(config.block_size, config.n_embd)    # position embeddings
        elif config.positions == "sinusoidal":                # a fixed table, not a parameter
            self.position_table = sinusoidal_positions(config.block_size, config.n_embd)
        else:                                                 # rotary: one speed per pair
            self.rope_frequencies = rope_inverse_frequencies(config.head_size, config.rope_theta,
                                                             config.rope_scaling)
        self.h = nn.ModuleList(Block(config, layer, dropout_generator)
                               for layer in range(config.n_layer))
        self.ln_f = make_norm(config, config.n_embd)
        self.hooks = Hooks(["embed"] + [f"h.{i}.{point}" for i in range(config.n_layer)
                                        for point in ("attn.weights", "attn.heads", "resid")])

    def forward(self, idx, kv_cache=None, functional=None):
        """idx (B, T) int token ids -> the final normalised residual stream (B, T, C). With a
        KV cache, idx holds only the positions after those it has stored."""
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
        x = self.wte(idx, functional)                                              # (B, T, C)
        rotary = None
        if config.positions == "learned":
            x = x + self.wpe(positions, functional)
        elif config.positions == "sinusoidal":
            x = x + tt.Tensor(self.position_table[positions].astype(x.dtype, copy=False))
        else:
            rotary = tuple(tt.Tensor(table) for table in
                           rotary_tables(positions, self.rope_frequencies, x.dtype))  # (T, D)
        x = functional.dropout(x, config.dropout, self.training, self.dropout_generator)
        if hooks is not None:
            x = hooks("embed", x)
        for block in self.h:
            x = block(x, functional, kv_cache, hooks, rotary)
        if kv_cache is not None:
            kv_cache.advance(T)
        return self.ln_f(x, functional)


# The parts a GPT-2 is made of: a model's repr names those it has instead.
PARTS_OF_GPT2 = {"norm": "layernorm", "positions": "learned", "mlp": "gelu", "qk_norm": False,
                 "tie_embeddings": True}


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
    """A GPT language model: the body and an LM head.

        model = GPT(GPTConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128),
                    seed=0)
        logits, loss = model(idx, targets)      # idx, targets: int arrays (B, T)

    The LM head is tied to the token embedding (logits = ln_f(x) @ wte^T, one parameter that
    receives both gradients), or, with tie_embeddings=False, a matrix of its own, `lm_head`.
    `seed` fixes the initial weights and the dropout masks, each from its own stream
    (gpt.seeds), so the same seed gives the same weights with dropout or not.
    """

    def __init__(self, config, seed=None):
        super().__init__()
        check_model_fits(config)         # say so now, not by the kernel killing the process
        self.config = config
        self.dropout_generator = stream("dropout", seed)
        self.transformer = Transformer(config, self.dropout_generator)
        if not config.tie_embeddings:
            self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        init_gpt2_weights(self, config.n_layer, stream("weights", seed))

    def forward(self, idx, targets=None, kv_cache=None):
        """idx (B, T) int token ids -> (logits (B, T, V), loss or None).

        targets (B, T) int: the next token at each position; -100 marks positions to ignore.
        kv_cache: a KVCache for generation (then idx holds only the new positions).
        """
        functional = functional_for(self.config)
        hidden = self.transformer(idx, kv_cache, functional)                      # (B, T, C)
        logits = self.head(hidden, functional)                                    # (B, T, V)
        loss = None
        if targets is not None:
            loss = self.loss(logits, targets, functional)
        return logits, loss

    def head(self, hidden, functional=None):
        """The LM head: logits (..., V) from hidden states (..., C). The layers compute it
        (`attend` of the tied embedding, or lm_head itself), so an int8 model's
        (gpt.quantize) compute it the same way."""
        functional = functional or functional_for(self.config)
        if self.config.tie_embeddings:
            return self.transformer.wte.attend(hidden, functional)
        return self.lm_head(hidden, functional)

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
        learned position embeddings, as GPT-2's paper counts."""
        total = sum(p.numel() for p in self.parameters())
        if non_embedding and self.config.positions == "learned":
            total -= self.transformer.wpe.weight.numel()
        return total

    def extra_repr(self):
        c = self.config
        gpt2_sizes = {"n_kv_head": c.n_head, "head_size": c.n_embd // c.n_head}
        parts = ", ".join(f"{name}={getattr(c, name)!r}"
                          for name, gpt2 in {**PARTS_OF_GPT2, **gpt2_sizes}.items()
                          if getattr(c, name) != gpt2)
        return (f"vocab_size={c.vocab_size}, block_size={c.block_size}, n_layer={c.n_layer}, "
                f"n_head={c.n_head}, n_embd={c.n_embd}, dropout={c.dropout}, bias={c.bias}, "
                f"fused={c.fused}, " + (parts + ", " if parts else "")
                + f"parameters={self.num_parameters():,}")

    # ----- checkpoints and generation live in their own files -------------------------------

    @classmethod
    def from_pretrained(cls, directory, fused=True):
        """A GPT-2 from a Hugging Face directory (config.json + model.safetensors)."""
        return load_pretrained(cls, directory, fused=fused)

    def save_pretrained(self, directory, extra_config=None, dtype="float32"):
        """Write config.json and model.safetensors in the Hugging Face layout of the model's
        family; extra_config adds config.json entries (e.g. the tokenizer's eos_token_id);
        dtype "bfloat16" rounds the weights to half the bytes (see gpt/hf_checkpoint.py)."""
        save_pretrained(self, directory, extra_config, dtype)

    # The loop of gpt/generate.py, with this model as its first argument: `model.generate(idx,
    # 20)` is `generate(model, idx, 20)`, and `s` in a debugger steps straight into it.
    generate = generate
