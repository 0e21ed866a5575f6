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

import bpe
import tinytorch as tt
import tinytorch.functional as F
from tinytorch.nn import evaluating

from ..model import functional_for
from .patching import record_activations
from ..tokenizers import is_padding_id


def residual_streams(model, idx):
    """The residual stream entering block 0 and leaving each block: (n_layer + 1, B, T, C)
    float array, for token ids idx (B, T); dropout off, no graph."""
    names = ["embed"] + [f"h.{i}.resid" for i in range(model.config.n_layer)]
    seen = record_activations(model, idx, names)
    return np.stack([seen[name] for name in names])


def logit_lens(model, idx):
    """Logits (n_layer + 1, B, T, V) read out of the residual stream at each depth through the
    model's final norm and LM head (see the module docstring); the last equals model(idx)."""
    return read_out(model, residual_streams(model, idx))


def read_out(model, streams):
    """Logits (n, ..., V), a float array, from residual streams (n, ..., C), each read out
    as the model reads out its last block's: through its final norm (model.transformer.ln_f,
    called with the model's function set, functional_for(model.config)) and then its LM head
    (model.head). For the streams of residual_streams, the last logits equal the model's own,
    bit for bit. No graph is built, dropout is off, the dtype stays the streams' (float32 in,
    float32 out) and `streams` is left as it is. A caller that needs one position passes
    only it (streams[:, :, -1] for the last): a long text over a large vocabulary need not be
    read out everywhere.
    """
    # BEGIN EXERCISE logit_lens_readout: for each stream, model.head(model.transformer.ln_f(tt.Tensor(stream), functional)), stacked
    functional = functional_for(model.config)          # the function set the model uses
    final_norm = model.transformer.ln_f
    with evaluating(model), tt.no_grad():
        return np.stack([model.head(final_norm(tt.Tensor(stream), functional)).data
                         for stream in streams])
    # END EXERCISE logit_lens_readout


def depth_names(n_layer):
    """The lens's rows: "embed", then "block 0" ... "block {n_layer - 1}"."""
    return ["embed"] + [f"block {i}" for i in range(n_layer)]


def top_guesses(logits, k):
    """The k most likely tokens after each row of logits (..., V): ids (..., k) and their
    probabilities (..., k) in float64, the most likely first (a tie: the lower id first);
    k larger than V gives all V."""
    logits = np.asarray(logits, dtype=np.float64)
    probs = F.softmax(tt.Tensor(logits), dim=-1).data
    ids = np.argsort(-probs, axis=-1, kind="stable")[..., :k]
    return ids, np.take_along_axis(probs, ids, axis=-1)


def lens_table(lens_logits, tokenizer, k):
    """The lens at one position as lines of text: a row per depth (embed, block 0, ...) with
    the k most likely next tokens, each with its probability. lens_logits (n_layer + 1, V):
    logit_lens's output at that position."""
    ids, probs = top_guesses(lens_logits, k)
    pieces = [[f"<padding id {i}>" if is_padding_id(tokenizer, i)     # no text (Qwen's rows)
               else bpe.render_token(tokenizer.decode_bytes([int(i)])) for i in row]
              for row in ids]
    width = max(len(piece) for row in pieces for piece in row)        # of the widest piece
    names = depth_names(len(lens_logits) - 1)
    name_width = max(map(len, names)) + 2
    cell_width = width + len(" 0.123")
    lines = [" " * name_width + "  ".join(f"top {rank}".ljust(cell_width)
                                          for rank in range(1, ids.shape[-1] + 1))]
    for name, row_pieces, row_probs in zip(names, pieces, probs):
        lines.append(name.ljust(name_width) + "  ".join(
            f"{piece.ljust(width)} {p:.3f}" for piece, p in zip(row_pieces, row_probs)))
    return [line.rstrip() for line in lines]
