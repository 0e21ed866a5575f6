"""Checking the numbers a user gives (configs, flags, generation arguments): one home for the
rules and for the wording of the errors.

    integer(value, "--n-layer", minimum=1)        an int (not a bool, not 2.0), >= minimum
    number(value, "--dropout", "[0, 1)")          a real number (not a bool, not nan) in an
                                                  interval: "(" and ")" leave the end out
    index(value, "layer", 12)                     one of 12 things numbered 0 to 11 (a layer,
                                                  a head, a position)

NaN is inside no interval. Infinity is allowed only where the interval says so: "[0, inf]"
includes it (a temperature of inf means every token is equally likely), "(0, inf)" does not
(an infinite learning rate means nothing).
"""
import math
import numbers


def integer(value, name, minimum=0):
    """`value` as an int if it is a whole number of at least `minimum`: a TypeError for a
    bool (True is an int to Python, but never a size), a float or anything else."""
    value = _whole_number(value, name)
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def index(value, name, count, owner="the model"):
    """`value` as an int if it numbers one of `count` things, 0 to count - 1 (a layer of the
    model, a head, a position of a prompt): a TypeError for anything but an int, a ValueError
    that says which exist ("layer 7 does not exist: the model has layers 0 to 3")."""
    value = _whole_number(value, name)
    if not 0 <= value < count:
        raise ValueError(f"{name} {value} does not exist: {owner} has {name}s 0 to {count - 1}")
    return value


def _whole_number(value, name):
    """`value` as an int, or a TypeError for a bool, a float or anything else."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    return int(value)


def optional_integer(value, name, minimum=0):
    """None, or an integer as `integer` checks it."""
    return None if value is None else integer(value, name, minimum)


def number(value, name, interval):
    """`value` as a float if it is a real number inside `interval`, written as in
    mathematics: "(0, inf)", "[0, 1)", "[0, inf]". A TypeError for a bool or a non-number,
    a ValueError for nan or a value outside."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    try:
        value = float(value)
    except OverflowError:                  # an int beyond float's range: as large as inf
        value = math.inf if value > 0 else -math.inf
    if not _inside(value, interval):
        raise ValueError(f"{name} must be a number in {interval}, got {value}")
    return value


def _inside(value, interval):
    """Whether `value` lies in an interval such as "(0, 1]"; nan lies in none."""
    low, high = (float(end) for end in interval[1:-1].split(","))
    above_low = low < value if interval[0] == "(" else low <= value
    below_high = value < high if interval[-1] == ")" else value <= high
    return above_low and below_high


def boolean(value, name):
    """`value` if it is True or False (not 1, not "yes")."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value
