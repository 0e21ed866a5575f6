"""What every training loop here shares: pretraining (gpt.train) and fine-tuning (gpt.finetune.train_classifier,
gpt.finetune.train_instructions).

Which parameters train: those with requires_grad. Fine-tuning freezes the rest (requires_grad
False), so the backward pass computes no gradient for them and the optimizer never sees them:
they hold no optimizer state either. `make_adamw` builds the optimizer over the trainable
parameters, with weight decay on the 2-D weights only.

One update, after the caller's loss.backward() (one backward, or several that accumulate):

    optimizer_step(model, optimizer, loss.item(), grad_clip)
        the loss is finite?  ->  clip the gradients' joint norm to grad_clip
        ->  AdamW step  ->  zero the gradients (set them to None) for the next one

A diverging run (too large a learning rate) turns the weights to inf or nan within a step or
two; every loss computed after that is nan. `check_finite_loss` turns such a loss into one
FloatingPointError that names it (the command line prints it as a one-line error), and
`quiet_divergence` keeps NumPy from printing a RuntimeWarning for every overflow on the way.
"""
import math

import numpy as np

import tinytorch as tt
from tinytorch import optim


def trainable_parameters(model):
    """The parameters of `model` that train (requires_grad), each once, in model order."""
    return [param for param in model.parameters() if param.requires_grad]


def make_adamw(model, lr, weight_decay, betas=(0.9, 0.999)):
    """AdamW over `model`'s trainable parameters, in two groups: weight decay on the 2-D
    weights (matrices, embeddings), none on biases and layer-norm gains (decaying them
    towards zero would only hurt). A group with no parameters (LoRA trains matrices only)
    is left out. betas: PyTorch's default, which the fine-tuning book uses."""
    params = trainable_parameters(model)
    groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
              {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
    return optim.AdamW([group for group in groups if group["params"]], lr=lr, betas=betas)


def optimizer_step(model, optimizer, loss, grad_clip):
    """Update `model` from the gradients its backward pass left: check that `loss` (a Python
    float, the step's mean loss) is finite, before the step that would spread a nan into
    every weight; clip the trainable parameters' gradient norm to `grad_clip` (one large
    gradient must not throw the weights far); step; zero the gradients. Returns `loss`."""
    check_finite_loss(loss, "the training loss")
    tt.nn.utils.clip_grad_norm_(trainable_parameters(model), grad_clip)
    optimizer.step()
    optimizer.zero_grad()
    return loss


def check_finite_loss(loss, what="the loss"):
    """`loss` (a Python float) if it is finite; else a FloatingPointError naming it."""
    if not math.isfinite(loss):
        raise FloatingPointError(f"{what} became {loss}; the run diverged: try a smaller --lr")
    return loss


def quiet_divergence():
    """A context that silences NumPy's overflow and invalid-value warnings: a run that
    diverges is reported once, by check_finite_loss, not by a screenful of warnings."""
    return np.errstate(over="ignore", invalid="ignore", divide="ignore")
