"""Fake quantisation as TFLite's int8 kernels quantise, on every backend.

`keras.quantizers.fake_quant_with_min_max_vars` rounds to the 8-bit grid of a range and
back (zero nudged onto the grid), with a straight-through gradient: 1 inside the range,
0 outside. On TensorFlow it is TensorFlow's own FakeQuantWithMinMaxVars(PerChannel) op,
which the TFLite converter reads as the quantisation parameters of the tensor.

- Weights: symmetric, narrow range (levels −127 … 127, zero point 0), per output channel
  for convolutions, per tensor for Dense (TFLite's FULLY_CONNECTED takes per-tensor
  weights from a converted graph) and for multiplier constants. The range is the
  weights' own max |w|, recomputed at every call: it never lags the weights.
- Activations: asymmetric, full range (levels 0 … 255 ↔ int8 −128 … 127), per tensor,
  over a range that ActivationQuantizer tracks.
- Averages put back on their input's grid (average pooling): rounded as TFLite's int8
  AVERAGE_POOL_2D rounds, except inside converter_graph(), where the plain FakeQuant op
  that the converters read stands in for it.
"""

import contextlib
import contextvars

from keras import ops
from keras.quantizers import fake_quant_with_min_max_vars

NUM_BITS = 8
_LEVELS = 2**NUM_BITS - 1
_INT8_ZERO = 2 ** (NUM_BITS - 1)  # level 128 of 0 … 255 is int8's 0
# An average of n integer levels is a tie (k + ½) exactly or at least 1/(2n) away from
# one; its float form is off by far less than this.
_TIE_TOLERANCE = 1e-3
_CONVERTER_GRAPH = contextvars.ContextVar("converter_graph", default=False)
# An all-zero weight channel still needs a range of positive width (zero scale divides).
_MIN_WEIGHT_RANGE = 1e-8


def fake_quantize(x, range_min, range_max, narrow_range=False, axis=None):
    """x rounded to the 8-bit grid of [range_min, range_max] (per `axis` when given)."""
    x = ops.convert_to_tensor(x)
    last = len(x.shape) - 1
    if axis is None or axis % len(x.shape) == last:
        return fake_quant_with_min_max_vars(
            x, range_min, range_max, num_bits=NUM_BITS, narrow_range=narrow_range, axis=axis
        )
    # Keras' JAX and torch forms broadcast per-channel ranges along the last axis only.
    swapped = fake_quantize(ops.swapaxes(x, axis, last), range_min, range_max, narrow_range, -1)
    return ops.swapaxes(swapped, axis, last)


def symmetric_weight_range(weights, axis=None):
    """max |w| per index of `axis` (over the whole tensor when None), at least 1e-8;
    no gradient flows through it."""
    weights = ops.convert_to_tensor(weights)
    if axis is None:
        reduced = ops.max(ops.abs(weights))
    else:
        axis = axis % len(weights.shape)
        others = tuple(i for i in range(len(weights.shape)) if i != axis)
        reduced = ops.max(ops.abs(weights), axis=others)
    return ops.stop_gradient(ops.maximum(reduced, _MIN_WEIGHT_RANGE))


def fake_quantize_weights(weights, axis=None):
    """Weights on their symmetric narrow-range int8 grid: round(w / s) · s with
    s = max|w| / 127 per index of `axis` (per tensor when None)."""
    limit = symmetric_weight_range(weights, axis)
    return fake_quantize(weights, -limit, limit, narrow_range=True, axis=axis)


@contextlib.contextmanager
def converter_graph():
    """While active, quantisation-aware layers build only the FakeQuant ops that the TFLite
    converter and tf2onnx read as quantisation parameters, instead of emulating the
    rounding of TFLite's kernels with other ops (which would land in the exported graph).
    The exporter traces quantisation-aware models inside it."""
    token = _CONVERTER_GRAPH.set(True)
    try:
        yield
    finally:
        _CONVERTER_GRAPH.reset(token)


def fake_quantize_average(x, range_min, range_max):
    """`x`, averages of values on the 8-bit grid of [range_min, range_max] (an average
    pooling's output), rounded back onto that grid as TFLite's int8 AVERAGE_POOL_2D
    rounds: the int8 levels' mean, half away from int8 zero. fake_quantize rounds half
    up (in levels 0 … 255) instead, and a 2×2 average is a tie one time in four.
    Straight-through gradient. Inside converter_graph(): fake_quantize."""
    if _CONVERTER_GRAPH.get():
        return fake_quantize(x, range_min, range_max)
    x = ops.convert_to_tensor(x)
    low, high = (ops.cast(v, x.dtype) for v in (range_min, range_max))
    scale = (high - low) / _LEVELS
    zero_point = ops.round(ops.clip(-low / scale, 0, _LEVELS))  # as the converter nudges
    level = x / scale + zero_point - _INT8_ZERO
    rounded = ops.sign(level) * ops.floor(ops.abs(level) + 0.5 + _TIE_TOLERANCE)
    rounded = ops.clip(rounded, -_INT8_ZERO, _LEVELS - _INT8_ZERO)
    y = (rounded + _INT8_ZERO - zero_point) * scale
    return x + ops.stop_gradient(y - x)
