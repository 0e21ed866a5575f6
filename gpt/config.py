"""The numbers that fix a GPT's shape, the parts it is made of, and the token ids every
forward pass takes.

GPT-2 is the default. Today's open models (Llama, Qwen, SmolLM) are the same decoder built
from other parts, each a choice here:

    part          GPT-2            Llama                       what it changes
    norm          "layernorm"      "rmsnorm"                   no mean, no bias: x / rms(x) * w
    positions     "learned"        "rotary"                    q and k turned by the position
    mlp           "gelu"           "swiglu"                    down(silu(gate(x)) * up(x))
    n_kv_head     = n_head         fewer (grouped-query)       heads that share keys and values
    tie_embeddings True            often False                 a separate output head
(and Qwen2's q/k/v biases, `qkv_bias`; Qwen3's per-head RMSNorm on q and k, `qk_norm`, and a
head size that is not n_embd / n_head, `head_size`).
"""
import math
from dataclasses import asdict, dataclass

import numpy as np

import tinytorch as tt

from .positions import rope_inverse_frequencies
from .safeguards.checks import boolean, integer, number, optional_integer

# The parts of each architecture a model can be trained as (gpt train --arch): a name for a
# choice of parts. n_kv_head None: one key/value head per query head; "half": half as many.
ARCHITECTURES = {
    "gpt2": dict(norm="layernorm", positions="learned", mlp="gelu", bias=True,
                 tie_embeddings=True, n_kv_head=None),
    "llama": dict(norm="rmsnorm", positions="rotary", mlp="swiglu", bias=False,
                  tie_embeddings=False, n_kv_head="half"),
}
NORMS = ("layernorm", "rmsnorm")
POSITIONS = ("learned", "sinusoidal", "rotary")
MLPS = ("gelu", "swiglu")


@dataclass
class GPTConfig:
    """Hyperparameters of a decoder-only transformer (GPT-2's parts unless told otherwise).

    vocab_size          V, the number of token ids (the embedding's rows)
    block_size          the longest context (number of positions) the model accepts
    n_layer             transformer blocks
    n_head              query heads per block
    n_embd              C, the width of the residual stream
    dropout             drop probability after the embeddings, in attention, after each block's
                        two branches (0 for inference and for the small runs here)
    bias                biases in every Linear and LayerNorm (GPT-2 has them; Llama none)
    layer_norm_epsilon  added to the variance (layer norm) or the mean square (RMSNorm)
    fused               True: fused kernels (fast, the default); False: the composed ops
                        (the path to step through in a debugger); the numbers are the same
    norm                "layernorm" or "rmsnorm"
    positions           "learned" (a table, GPT-2), "sinusoidal" (Vaswani et al.'s fixed
                        table) or "rotary" (q and k rotated by position, Llama)
    mlp                 "gelu" (c_fc, GELU, c_proj) or "swiglu" (c_proj(silu(c_gate) * c_fc))
    mlp_hidden          the MLP's hidden width F; None: 4 C for gelu, 8C/3 rounded up to a
                        multiple of 32 for swiglu (the same parameters as 4 C with two layers)
    n_kv_head           key/value heads; None: n_head. Query head h reads key/value head
                        h // (n_head // n_kv_head); 1 is multi-query attention
    head_size           D; None: n_embd // n_head (Qwen3 sets its own)
    qkv_bias            biases on q, k, v; None: as `bias` (Qwen2: True with bias False)
    proj_bias           a bias on the attention's output projection; None: as `bias`
    mlp_bias            biases in the MLP; None: as `bias`
    qk_norm             an RMSNorm over each head's q and k (Qwen3)
    tie_embeddings      the LM head is the token embedding (GPT-2) or a matrix of its own
    rope_theta          the rotary base (10,000 in Llama 2, 500,000 in Llama 3)
    rope_scaling        None, or Llama 3.1's {"rope_type": "llama3", "factor", ...}
    """

    vocab_size: int
    block_size: int
    n_layer: int
    n_head: int
    n_embd: int
    dropout: float = 0.0
    bias: bool = True
    layer_norm_epsilon: float = 1e-5
    fused: bool = True
    norm: str = "layernorm"
    positions: str = "learned"
    mlp: str = "gelu"
    mlp_hidden: int = None
    n_kv_head: int = None
    head_size: int = None
    qkv_bias: bool = None
    proj_bias: bool = None
    mlp_bias: bool = None
    qk_norm: bool = False
    tie_embeddings: bool = True
    rope_theta: float = 10000.0
    rope_scaling: dict = None

    def __post_init__(self):
        """Types (with isinstance: `vocab_size=True` is a bool, not a size) and ranges, each
        named; values are stored as plain int, float and bool, and the None defaults filled."""
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            setattr(self, name, integer(getattr(self, name), f"GPTConfig.{name}", minimum=1))
        self.dropout = number(self.dropout, "GPTConfig.dropout", "[0, 1)")
        self.layer_norm_epsilon = number(self.layer_norm_epsilon, "GPTConfig.layer_norm_epsilon",
                                         "(0, inf)")
        for name in ("bias", "fused", "qk_norm", "tie_embeddings"):
            boolean(getattr(self, name), f"GPTConfig.{name}")
        for name, choices in (("norm", NORMS), ("positions", POSITIONS), ("mlp", MLPS)):
            if getattr(self, name) not in choices:
                raise ValueError(f"GPTConfig.{name} must be one of {', '.join(choices)}, got "
                                 f"{getattr(self, name)!r}")
        self._fill_defaults()
        if self.n_head % self.n_kv_head:
            raise ValueError(f"GPTConfig.n_head={self.n_head} query heads do not share evenly "
                             f"among GPTConfig.n_kv_head={self.n_kv_head} key/value heads")
        if self.positions == "rotary":
            self.rope_theta = number(self.rope_theta, "GPTConfig.rope_theta", "(0, inf)")
            if self.head_size % 2:
                raise ValueError(f"rotary positions turn pairs of dimensions: head_size "
                                 f"{self.head_size} must be even")
            # refuses, by name, a kind of scaling that is not implemented
            rope_inverse_frequencies(self.head_size, self.rope_theta, self.rope_scaling)
        elif self.rope_scaling is not None:
            raise ValueError(f"rope_scaling is for rotary positions, not {self.positions!r}")
        if self.positions == "sinusoidal" and self.n_embd % 2:
            raise ValueError(f"sinusoidal positions pair sines and cosines: n_embd "
                             f"{self.n_embd} must be even")

    def _fill_defaults(self):
        """The None settings become what they stand for, checked."""
        if self.head_size is None:
            if self.n_embd % self.n_head:
                raise ValueError(f"n_embd={self.n_embd} does not split evenly into "
                                 f"n_head={self.n_head} heads (or give head_size)")
            self.head_size = self.n_embd // self.n_head
        self.head_size = integer(self.head_size, "GPTConfig.head_size", minimum=1)
        self.n_kv_head = integer(self.n_head if self.n_kv_head is None else self.n_kv_head,
                                 "GPTConfig.n_kv_head", minimum=1)
        if self.mlp_hidden is None:
            self.mlp_hidden = (4 * self.n_embd if self.mlp == "gelu"
                               else 32 * math.ceil(8 * self.n_embd / 3 / 32))
        self.mlp_hidden = optional_integer(self.mlp_hidden, "GPTConfig.mlp_hidden", minimum=1)
        for name in ("qkv_bias", "proj_bias", "mlp_bias"):
            value = self.bias if getattr(self, name) is None else getattr(self, name)
            setattr(self, name, boolean(value, f"GPTConfig.{name}"))

    @property
    def norm_bias(self):
        """Layer norms carry a bias when the model has biases (RMSNorm never has one)."""
        return self.bias and self.norm == "layernorm"

    def parameter_count(self):
        """The number of parameters of a model of this config (the tied head counted once)."""
        C, D, F = self.n_embd, self.head_size, self.mlp_hidden
        q_width, kv_width = self.n_head * D, self.n_kv_head * D
        norm = C + (C if self.norm_bias else 0)
        attention = (C * (q_width + 2 * kv_width) + q_width * C
                     + (q_width + 2 * kv_width if self.qkv_bias else 0)
                     + (C if self.proj_bias else 0) + (2 * D if self.qk_norm else 0))
        n_mlp_in = 2 if self.mlp == "swiglu" else 1
        mlp = n_mlp_in * C * F + F * C + ((n_mlp_in * F + C) if self.mlp_bias else 0)
        embeddings = self.vocab_size * C + (self.block_size * C
                                            if self.positions == "learned" else 0)
        head = 0 if self.tie_embeddings else self.vocab_size * C
        return embeddings + self.n_layer * (2 * norm + attention + mlp) + norm + head

    def to_dict(self):
        return asdict(self)


def architecture_parts(arch, n_head, **overrides):
    """The GPTConfig settings of architecture `arch` ("gpt2" or "llama") for a model with
    n_head query heads, with `overrides` (None values ignored) on top: the part flags of
    `gpt train`."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"--arch must be one of {', '.join(ARCHITECTURES)}, got {arch!r}")
    parts = dict(ARCHITECTURES[arch])
    if parts["n_kv_head"] == "half":                  # grouped-query: two query heads a pair
        parts["n_kv_head"] = max(1, n_head // 2) if n_head % 2 == 0 else n_head
    parts.update({name: value for name, value in overrides.items() if value is not None})
    return parts


def check_idx(idx):
    """Token ids as an integer ndarray (B, T), or an error a learner can act on."""
    idx = idx.data if isinstance(idx, tt.Tensor) else np.asarray(idx)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"idx must hold integer token ids, got dtype {idx.dtype}")
    if idx.ndim != 2:
        raise ValueError(f"idx must be (batch, time), got shape {idx.shape}; "
                         f"for one sequence use idx[None]")
    if idx.shape[1] == 0:
        raise ValueError("idx has no tokens")
    return idx
