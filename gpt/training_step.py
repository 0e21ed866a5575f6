"""What every training loop here shares: pretraining (gpt.train) and fine-tuning (gpt.classify,
gpt.instruct).

A diverging run (too large a learning rate) turns the weights to inf or nan within a step or
two; every loss computed after that is nan. `check_finite_loss` turns such a loss into one
FloatingPointError that names it (the command line prints it as a one-line error), and
`quiet_divergence` keeps NumPy from printing a RuntimeWarning for every overflow on the way.
"""
import math

import numpy as np


def check_finite_loss(loss, what="the loss"):
    """`loss` (a Python float) if it is finite; else a FloatingPointError naming it."""
    if not math.isfinite(loss):
        raise FloatingPointError(f"{what} became {loss}; the run diverged: try a smaller --lr")
    return loss


def quiet_divergence():
    """A context that silences NumPy's overflow and invalid-value warnings: a run that
    diverges is reported once, by check_finite_loss, not by a screenful of warnings."""
    return np.errstate(over="ignore", invalid="ignore", divide="ignore")
