"""GPTConfig's types and ranges, and the checks every config and flag shares (gpt.safeguards.checks)."""
import math
import re

import numpy as np
import pytest

from gpt import GPTConfig
from gpt.safeguards.checks import boolean, index, integer, number, optional_integer

SIZES = dict(vocab_size=65, block_size=16, n_layer=2, n_head=2, n_embd=8)


@pytest.mark.parametrize("name", ["vocab_size", "block_size", "n_layer", "n_head", "n_embd"])
@pytest.mark.parametrize("value, error", [
    (True, TypeError), (False, TypeError),          # bool is an int to Python, never a size
    (8.0, TypeError), ("8", TypeError), (None, TypeError), ([8], TypeError),
    (0, ValueError), (-4, ValueError),
])
def test_every_size_must_be_a_positive_integer(name, value, error):
    with pytest.raises(error, match=rf"GPTConfig\.{name} must be"):
        GPTConfig(**{**SIZES, name: value})


def test_numpy_integers_are_sizes_and_are_stored_as_python_ints():
    config = GPTConfig(**{name: np.int64(value) for name, value in SIZES.items()})
    assert config.n_embd == 8 and isinstance(config.n_embd, int)    # np.int64 is not an int


@pytest.mark.parametrize("field, value, message", [
    ("dropout", 1.0, r"dropout must be a number in \[0, 1\), got 1.0"),
    ("dropout", -0.1, r"dropout must be a number in \[0, 1\)"),
    ("dropout", math.nan, "got nan"),
    ("dropout", True, "dropout must be a number, got True"),
    ("dropout", "0.1", "dropout must be a number, got '0.1'"),
    ("layer_norm_epsilon", -1, r"layer_norm_epsilon must be a number in \(0, inf\), got -1.0"),
    ("layer_norm_epsilon", 0.0, r"in \(0, inf\)"),
    ("layer_norm_epsilon", math.inf, r"in \(0, inf\), got inf"),
    ("layer_norm_epsilon", math.nan, "got nan"),
    ("bias", 1, "bias must be True or False, got 1"),
    ("fused", "no", "fused must be True or False, got 'no'"),
])
def test_other_fields_are_checked_and_named(field, value, message):
    with pytest.raises((TypeError, ValueError), match=message):
        GPTConfig(**SIZES, **{field: value})


def test_heads_must_divide_the_width():
    with pytest.raises(ValueError, match="n_embd=8 does not split evenly into n_head=3"):
        GPTConfig(**{**SIZES, "n_head": 3})


def test_valid_values_are_kept_as_plain_python_numbers():
    config = GPTConfig(**SIZES, dropout=np.float32(0.25), layer_norm_epsilon=1)
    for value in (config.dropout, config.layer_norm_epsilon):
        assert isinstance(value, float) and not isinstance(value, np.floating)
    assert config.dropout == 0.25 and config.layer_norm_epsilon == 1.0


# ----- the shared checks ---------------------------------------------------------------------

def test_integer_by_hand():
    assert integer(3, "n") == 3 and integer(np.uint8(3), "n", minimum=3) == 3
    assert optional_integer(None, "n") is None and optional_integer(2, "n", 1) == 2
    with pytest.raises(ValueError, match="--n must be at least 1, got 0"):
        integer(0, "--n", minimum=1)
    for bad in (True, 1.0, "1", None, np.float64(1.0)):
        with pytest.raises(TypeError, match="--n must be an integer"):
            integer(bad, "--n")


def test_index_by_hand():
    assert index(0, "layer", 3) == 0 and index(np.int64(2), "layer", 3) == 2
    assert isinstance(index(np.int64(2), "layer", 3), int)      # not np.int64
    for bad in (3, -1, 10 ** 30):
        with pytest.raises(ValueError, match=f"layer {bad} does not exist: the model has "
                                             f"layers 0 to 2"):
            index(bad, "layer", 3)
    with pytest.raises(ValueError, match="position 8 does not exist: the prompt has positions "
                                         "0 to 7"):
        index(8, "position", 8, owner="the prompt")
    for bad in (True, 1.0, "1", None):
        with pytest.raises(TypeError, match="head must be an integer"):
            index(bad, "head", 4)


@pytest.mark.parametrize("interval, inside, outside", [
    ("(0, inf)", [1e-300, 1.0, 1e308], [0.0, -1.0, math.inf, math.nan]),
    ("[0, inf]", [0.0, 2.5, math.inf], [-1e-300, -math.inf, math.nan]),
    ("[0, 1)", [0.0, 0.5, 0.999], [1.0, -0.0001, math.nan]),
    ("(0, 1]", [1e-9, 1.0], [0.0, 1.0000001, math.nan, math.inf]),
    ("[0, 0.001]", [0.0, 0.001], [0.0011]),
])
def test_number_by_hand(interval, inside, outside):
    for value in inside:
        assert number(value, "x", interval) == value
    for value in outside:
        with pytest.raises(ValueError, match=re.escape(f"x must be a number in {interval}")):
            number(value, "x", interval)


def test_number_refuses_non_numbers_and_takes_huge_integers_as_infinite():
    for bad in (True, "1", None, [1.0], 1j):
        with pytest.raises(TypeError, match="x must be a number"):
            number(bad, "x", "[0, inf]")
    assert number(10 ** 400, "x", "[0, inf]") == math.inf      # beyond float's range
    with pytest.raises(ValueError, match="got inf"):
        number(10 ** 400, "x", "(0, inf)")
    half = number(np.float32(0.5), "x", "[0, 1]")
    assert half == 0.5 and isinstance(half, float) and not isinstance(half, np.floating)


def test_boolean_by_hand():
    assert boolean(True, "b") is True
    for bad in (1, 0, "True", None, np.bool_(True)):
        with pytest.raises(TypeError, match="b must be True or False"):
            boolean(bad, "b")
