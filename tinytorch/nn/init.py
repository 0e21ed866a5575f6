"""Initialisers: fill a tensor's data in place, from an np.random.Generator.

PyTorch's names end in an underscore (they modify in place); the plain names from DESIGN.md
are the same functions. Inside `skipped()` (what tinytorch.nn.utils.skip_init uses) the random
ones leave the tensor as it is: for a model whose every weight is about to be read from a file.
"""
import contextlib
import math

import numpy as np

_skipping = False          # True inside skipped(): the random initialisers do nothing


@contextlib.contextmanager
def skipped():
    """Inside the block, normal_, uniform_ and kaiming_uniform_ leave tensors as they are (as
    np.empty made them): building a large model then costs neither the time to draw its
    weights nor the float64 temporaries the draws need. Only for parameters that are all
    overwritten next; see tinytorch.nn.utils.skip_init."""
    global _skipping
    before, _skipping = _skipping, True
    try:
        yield
    finally:
        _skipping = before


def _generator(generator):
    # A fresh unseeded generator when none is given: pass one to make results reproducible.
    return np.random.default_rng() if generator is None else generator


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Values from N(mean, std^2)."""
    if _skipping:
        return tensor
    values = _generator(generator).normal(mean, std, size=tensor.shape)
    tensor.data[...] = values
    return tensor


def uniform_(tensor, low=0.0, high=1.0, generator=None):
    """Values from U(low, high)."""
    if _skipping:
        return tensor
    tensor.data[...] = _generator(generator).uniform(low, high, size=tensor.shape)
    return tensor


def zeros_(tensor):
    tensor.data[...] = 0
    return tensor


def ones_(tensor):
    tensor.data[...] = 1
    return tensor


def kaiming_uniform_(tensor, a=0.0, generator=None):
    """U(-b, b) with b = gain * sqrt(3 / fan_in), gain = sqrt(2 / (1 + a^2)), fan_in the
    size of axis 1 (a Linear weight is (out, in)) times any further axes.

    nn.Linear uses a = sqrt(5), PyTorch's default, which gives b = 1 / sqrt(fan_in).
    """
    fan_in = int(np.prod(tensor.shape[1:])) if tensor.ndim > 1 else tensor.shape[0]
    bound = math.sqrt(2.0 / (1.0 + a * a)) * math.sqrt(3.0 / fan_in)
    return uniform_(tensor, -bound, bound, generator)


normal = normal_
uniform = uniform_
zeros = zeros_
ones = ones_
kaiming_uniform = kaiming_uniform_
