"""The numbers that fix a GPT's shape, and the token ids every forward pass takes."""
from dataclasses import asdict, dataclass

import numpy as np

import tinytorch as tt

from .safeguards.checks import boolean, integer, number


@dataclass
class GPTConfig:
    """Hyperparameters of a GPT-2 style model.

    vocab_size          V, the number of token ids
    block_size          the longest context (number of positions) the model accepts
    n_layer             transformer blocks
    n_head              attention heads per block; n_embd must divide evenly among them
    n_embd              C, the width of the residual stream
    dropout             drop probability after the embeddings, in attention, after each block's
                        two branches (0 for inference and for the small runs here)
    bias                biases in the Linear and LayerNorm layers (GPT-2 has them)
    layer_norm_epsilon  added to the variance in every layer norm
    fused               True: fused kernels (fast, the default); False: the composed ops
                        (the path to step through in a debugger); the numbers are the same
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

    def __post_init__(self):
        """Types (with isinstance: `vocab_size=True` is a bool, not a size) and ranges, each
        named; values are stored as plain int, float and bool."""
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            setattr(self, name, integer(getattr(self, name), f"GPTConfig.{name}", minimum=1))
        self.dropout = number(self.dropout, "GPTConfig.dropout", "[0, 1)")
        self.layer_norm_epsilon = number(self.layer_norm_epsilon, "GPTConfig.layer_norm_epsilon",
                                         "(0, inf)")
        for name in ("bias", "fused"):
            boolean(getattr(self, name), f"GPTConfig.{name}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd={self.n_embd} does not split evenly into "
                             f"n_head={self.n_head} heads")

    @property
    def head_size(self):
        return self.n_embd // self.n_head

    def to_dict(self):
        return asdict(self)


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
