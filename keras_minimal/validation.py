"""Argument predicates shared by layers, callbacks and tools."""

import numbers


def is_integer(value):
    """An integer, numpy ones included; bools are not counts."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
