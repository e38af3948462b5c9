"""Argument predicates shared by layers, callbacks and tools."""

import numbers
from collections.abc import Iterable


def is_integer(value):
    """An integer, numpy ones included; bools are not counts."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_rate(name, value):
    """A drop or smoothing probability in [0, 1), returned as a float.

    TypeError for anything that is not a real number (None, a string, a bool), ValueError
    for a number outside the range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in [0, 1). Received: {name}={value!r}")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must lie in [0, 1). Received: {name}={value}")
    return float(value)


def check_ints(name, values, minimum=1):
    """A non-empty sequence of integers ≥ minimum (numpy integers too) as a tuple of ints."""
    items = tuple(values) if isinstance(values, Iterable) and not isinstance(values, str) else ()
    if not items or not all(is_integer(v) and v >= minimum for v in items):
        shown = [v.item() if hasattr(v, "item") else v for v in items] if items else values
        raise ValueError(f"{name} must be integers ≥ {minimum}. Received: {name}={shown!r}")
    return tuple(int(v) for v in items)


def check_int(name, value, minimum=1):
    """One integer ≥ minimum (numpy integers too) as an int."""
    if not is_integer(value) or value < minimum:
        raise ValueError(f"{name} must be an integer ≥ {minimum}. Received: {name}={value!r}")
    return int(value)
