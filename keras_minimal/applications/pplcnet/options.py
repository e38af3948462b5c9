"""PaddleClas' PPLCNet options `stride_list` and `act`: checked, and in the forms the builder
and its config record use."""

from collections.abc import Sequence

from keras_minimal.applications.pplcnet.variants import ACTIVATIONS, STRIDED_UNITS
from keras_minimal.validation import is_integer


def _stride_pair(stride):
    """(height stride, width stride) of one stride_list entry, or None when it is not one."""
    if is_integer(stride) and stride >= 1:
        return int(stride), int(stride)
    if (
        isinstance(stride, Sequence)
        and not isinstance(stride, str)
        and len(stride) == 2
        and all(is_integer(s) and s >= 1 for s in stride)
    ):
        return int(stride[0]), int(stride[1])
    return None


def check_stride_list(stride_list):
    """((sh, sw), …) for the units of STRIDED_UNITS, or ValueError saying what is wrong."""
    pairs = None
    if isinstance(stride_list, Sequence) and not isinstance(stride_list, str):
        pairs = [_stride_pair(stride) for stride in stride_list]
    if pairs is None or len(pairs) != len(STRIDED_UNITS) or None in pairs:
        raise ValueError(
            f"stride_list must hold {len(STRIDED_UNITS)} strides, those of "
            f"{', '.join(STRIDED_UNITS)} (the stem conv, then the first block of each stage), "
            "each an integer ≥ 1 or a [height, width] pair of them, as PaddleClas' PPLCNet "
            f"takes them (e.g. [2, [2, 1], [2, 1], [2, 1], [2, 1]]). Received: "
            f"stride_list={stride_list!r}"
        )
    return tuple(pairs)


def stride_list_config(stride_list):
    """stride_list in a JSON-safe form: ints stay ints, pairs become [height, width]."""
    return [int(s) if is_integer(s) else [int(s[0]), int(s[1])] for s in stride_list]


def check_act(act):
    """The Keras activation computing PaddleClas' `act`, or ValueError naming the choices."""
    if not isinstance(act, str) or act not in ACTIVATIONS:
        raise ValueError(
            f"act must be one of {', '.join(repr(a) for a in ACTIVATIONS)}, PaddleClas' "
            f"choices. Received: act={act!r}"
        )
    return ACTIVATIONS[act]


def total_strides(strides):
    """(height, width) stride of the whole network for check_stride_list's pairs."""
    height = width = 1
    for sh, sw in strides:
        height, width = height * sh, width * sw
    return height, width
