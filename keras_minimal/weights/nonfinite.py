"""Refuse checkpoint tensors holding NaN or ±inf (a run saved after it diverged)."""

import numpy as np

_LISTED = 8  # tensors named in the error


def _can_hold_nonfinite(array):
    # ml_dtypes' bfloat16 (JAX arrays) is a float that numpy does not class as inexact.
    return array.dtype.kind in "fc" or array.dtype.name == "bfloat16"


def _counts(array):
    """'3 NaN, 1 +inf of 64 values' for one tensor."""
    parts = []
    for label, hits in (
        ("NaN", np.isnan(array)),
        ("+inf", np.isposinf(array)),
        ("-inf", np.isneginf(array)),
    ):
        count = int(np.count_nonzero(hits))
        if count:
            parts.append(f"{count} {label}")
    return f"{', '.join(parts)} of {array.size} values"


def check_finite(named_arrays, allow_nonfinite=False):
    """ValueError naming the tensors of `named_arrays` ({name: array}) that hold NaN or ±inf.

    `allow_nonfinite=True` is the caller's explicit choice to load such values as they are.
    """
    if allow_nonfinite:
        return
    offending = sorted(
        name
        for name, array in named_arrays.items()
        if _can_hold_nonfinite(array) and not np.isfinite(array).all()
    )
    if not offending:
        return
    shown = "; ".join(f"{name} ({_counts(named_arrays[name])})" for name in offending[:_LISTED])
    more = len(offending) - _LISTED
    raise ValueError(
        f"The checkpoint holds NaN or infinite values in {len(offending)} of the "
        f"{len(named_arrays)} tensors to load: {shown}"
        + (f"; … ({more} more)" if more > 0 else "")
        + ". Such values usually mean that the run which saved them had diverged. Nothing "
        "was loaded. Use a checkpoint saved before that (in a training "
        'checkpoint, the other of "model" and "model_ema" may be finite: choose it with key=, '
        "--key in tools/convert_weights.py). To load these values as they are, on purpose, "
        "pass allow_nonfinite=True to load_reference or convert_checkpoint "
        "(--allow_nonfinite in tools/convert_weights.py)."
    )
