"""Reading the attention weights of one layer, for pictures (`python -m gpt attention`)."""
import tinytorch as tt
from tinytorch.nn import evaluating

from ..safeguards.checks import index


def attention_weights(model, idx, layer):
    """The attention weights (B, H, T, T) of block `layer` for token ids idx (B, T): row i of
    head h is how much position i looks at each position j <= i.

    The model runs as usual, with a hook on that block's weights (gpt.model.Hooks): what the
    picture shows is what the attention computes, by the same code.
    """
    layer = index(layer, "layer", model.config.n_layer)
    seen = {}

    def keep(weights):                                   # weights (B, H, T, T), read only
        seen["weights"] = weights.data

    with evaluating(model), tt.no_grad(), model.hooks({f"h.{layer}.attn.weights": keep}):
        model(idx)
    return seen["weights"]
