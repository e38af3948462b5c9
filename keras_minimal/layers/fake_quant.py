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
"""

from keras import ops
from keras.quantizers import fake_quant_with_min_max_vars

NUM_BITS = 8
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
