"""The logit lens: what the model would predict if its residual stream were read out early.

After the embeddings and after every block, the residual stream (B, T, C) is put through the
model's own final norm and LM head, as the last block's output is:

    lens[0]      = head(ln_f(embeddings))          what the embeddings alone suggest
    lens[i + 1]  = head(ln_f(stream after block i))
    lens[-1]     = the model's logits               (the last block's stream: exactly them)

Reading down the layers shows where in the stack the next token becomes predictable
(nostalgebraist 2020). The streams are taken with hooks (gpt.model.Hooks), so the lens reads
what the model computes.
"""
import numpy as np

import tinytorch as tt
from tinytorch.nn import evaluating

from ..model import functional_for


def residual_streams(model, idx):
    """The residual stream entering block 0 and leaving each block: (n_layer + 1, B, T, C)
    float array, for token ids idx (B, T); dropout off, no graph."""
    names = ["embed"] + [f"h.{i}.resid" for i in range(model.config.n_layer)]
    seen = {}

    def keeper(name):
        def keep(value):
            seen[name] = value.data
        return keep

    with evaluating(model), tt.no_grad(), model.hooks({name: keeper(name) for name in names}):
        model(idx)
    return np.stack([seen[name] for name in names])


def logit_lens(model, idx):
    """Logits (n_layer + 1, B, T, V) read out of the residual stream at each depth through the
    model's final norm and LM head (see the module docstring); the last equals model(idx)."""
    return read_out(model, residual_streams(model, idx))


def read_out(model, streams):
    """Logits (depths, ..., V) for residual streams (depths, ..., C), each depth read out as
    the model reads out its last block: its final norm, then its LM head. A caller that needs
    one position passes only it (streams[:, :, -1] for the last): a long sequence over a large
    vocabulary need not be read out everywhere."""
    functional = functional_for(model.config)          # the function set the model uses
    final_norm = model.transformer.ln_f
    with evaluating(model), tt.no_grad():
        return np.stack([model.head(final_norm(tt.Tensor(stream), functional)).data
                         for stream in streams])
