"""Head ablation: how much worse the model does without one attention head.

Each head h of block i computes its output (B, T, D) on its own; c_proj then mixes the heads
side by side into what the block's attention adds to the residual stream. Zeroing one head's
output (through the hook "h.{i}.attn.heads", (B, H, T, D)) removes exactly what that head
adds, as zeroing its D columns of c_proj's weight would, and the rise in the loss measures how
much the model relied on it:

    increase[i, h] = loss(with head h of block i zeroed) - loss(as it is)

Zero is the simplest thing to put in a head's place; it can also push the stream somewhere the
model never saw a head put it (the mean over a data set is the usual alternative, "mean
ablation"), so a large increase says the head matters, not what it computes.
"""
from dataclasses import dataclass

import numpy as np

import tinytorch as tt
from tinytorch.nn import evaluating

from ..safeguards.checks import index


def check_heads(config, heads):
    """{layer: sorted heads} for a sequence of (layer, head) pairs of a model with `config`,
    or an error naming the pair that does not exist; a pair given twice is zeroed once."""
    by_layer = {}
    for pair in heads:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise TypeError(f"each head to ablate is a (layer, head) pair, got {pair!r}")
        layer = index(pair[0], "layer", config.n_layer)
        head = index(pair[1], "head", config.n_head)
        by_layer.setdefault(layer, set()).add(head)
    return {layer: sorted(found) for layer, found in by_layer.items()}


def zero_heads(model, heads):
    """Hooks ({name: function}, for model.hooks) that zero the output of each (layer, head)
    in `heads`; {} for none."""
    return {f"h.{layer}.attn.heads": _zeroer(chosen, model.config.n_head)
            for layer, chosen in check_heads(model.config, heads).items()}


def _zeroer(chosen, n_head):
    def zero(heads_out):                                   # (B, H, T, D)
        # times 1 or 0: the other heads keep every bit, and a graph stays differentiable
        keep = np.ones((1, n_head, 1, 1), dtype=heads_out.dtype)
        keep[0, chosen] = 0.0
        return heads_out * tt.Tensor(keep)
    return zero


def ablated_loss(model, idx, targets, heads=()):
    """The model's mean cross-entropy (a float) on token ids idx (B, T) against targets (B, T)
    (-100: not counted) with the output of each (layer, head) in `heads` zeroed; with no
    heads, the model's own loss. Dropout off, no graph."""
    with evaluating(model), tt.no_grad(), model.hooks(zero_heads(model, heads)):
        _, loss = model(idx, targets)
    return loss.item()


@dataclass(eq=False)
class HeadAblation:
    """A sweep over every head: the loss as the model is, and with each head zeroed alone."""

    clean_loss: float        # no head zeroed
    losses: np.ndarray       # (n_layer, n_head): losses[i, h] with head h of block i zeroed

    @property
    def increase(self):
        """(n_layer, n_head): how much each head's ablation raises the loss."""
        return self.losses - self.clean_loss

    def ranked(self):
        """[(layer, head, increase)], the head whose ablation hurts most first."""
        increase = self.increase
        order = np.argsort(-increase, axis=None, kind="stable")
        return [(int(layer), int(head), float(increase[layer, head]))
                for layer, head in zip(*np.unravel_index(order, increase.shape))]


def head_ablation(model, idx, targets):
    """Zero each head of each block in turn (one forward pass each) and measure the loss on
    idx (B, T) against targets (B, T), -100 where a position does not count: a HeadAblation."""
    config = model.config
    losses = np.array([[ablated_loss(model, idx, targets, [(layer, head)])
                        for head in range(config.n_head)] for layer in range(config.n_layer)])
    return HeadAblation(ablated_loss(model, idx, targets), losses)
