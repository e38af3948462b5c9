"""Adaptive gradient clipping maths (Brock et al. 2021, §4), backend-neutral in keras.ops.

Each output unit i of a parameter W has its gradient G_i rescaled so that
‖G_i‖ ≤ λ·max(‖W_i‖, ε), ‖·‖ the Frobenius norm over the unit's weights:

- convolution kernels (kh, kw, in, out): one unit per output channel, the norm runs over
  every axis but the last; depthwise kernels (kh, kw, channels, multiplier): one unit per
  (channel, multiplier), the norm over the spatial axes; transposed-convolution kernels
  (kh, kw, out, in): over every axis but the output axis (-2);
- dense kernels (in, out), and 3-D (in, heads, dim) ones: over the input axis;
- vectors and scalars (biases, gains): as a whole.

DeepMind's agc_optax.py applies the same rule by shape alone; knowing the layer lets the
Keras depthwise and transposed layouts be handled too.
"""

from dataclasses import dataclass

import keras
from keras import ops

from keras_minimal.layers import BandedDepthwiseConv2D

_MIN_GRADIENT_NORM = 1e-6  # only guards the division; DeepMind's value


@dataclass(frozen=True)
class ClipRule:
    """How one parameter is clipped: the axes its unit norms run over (None: the whole
    tensor), or not at all."""

    axes: tuple | None = None
    excluded: bool = False


_DEPTHWISE = (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D, BandedDepthwiseConv2D)
_SEPARABLE = (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)


def unit_axes(shape, layer=None, name=None):
    """The axes of a parameter's unit-wise norm (None: the whole tensor), see the module doc.

    Args:
        shape: the parameter's shape (Keras layout).
        layer: the layer that owns it, if known (decides convolution layouts).
        name: the variable's name within the layer (e.g. "depthwise_kernel").
    """
    shape = tuple(shape)
    # By rank, as timm's unitwise_norm: a (1, out) kernel has `out` units (DeepMind squeezes
    # first and clips it as one vector; no NFNet parameter has such a shape).
    if len(shape) <= 1:
        return None
    rank = len(shape)
    is_depthwise = isinstance(layer, _DEPTHWISE) or (
        isinstance(layer, _SEPARABLE) and name == "depthwise_kernel"
    )
    if is_depthwise:
        return tuple(range(rank - 2))
    transposed = (
        keras.layers.Conv1DTranspose,
        keras.layers.Conv2DTranspose,
        keras.layers.Conv3DTranspose,
    )
    if isinstance(layer, transposed):
        return tuple(a for a in range(rank) if a != rank - 2)
    is_convolution = isinstance(
        layer, (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D, *_SEPARABLE)
    )
    if rank in (2, 3) and not is_convolution:
        return (0,)
    return tuple(range(rank - 1))


def unitwise_norm(x, axes):
    """Frobenius norm of each unit of x (keepdims), or of all of x when axes is None.

    In float32 at least: a float16 sum of squares overflows once a norm passes ~256.
    """
    if keras.backend.standardize_dtype(x.dtype) in ("float16", "bfloat16"):
        x = ops.cast(x, "float32")
    if axes is None:
        return ops.sqrt(ops.sum(ops.square(x)))
    return ops.sqrt(ops.sum(ops.square(x), axis=axes, keepdims=True))


def clip_unitwise(gradient, parameter, axes, clipping, epsilon=1e-3):
    """The gradient with every unit whose norm exceeds λ·max(‖W_i‖, ε) scaled down to it."""
    gradient = ops.convert_to_tensor(gradient)
    max_norm = ops.multiply(clipping, ops.maximum(unitwise_norm(parameter, axes), epsilon))
    gradient_norm = unitwise_norm(gradient, axes)
    max_norm = ops.cast(max_norm, gradient_norm.dtype)
    factor = ops.divide(max_norm, ops.maximum(gradient_norm, _MIN_GRADIENT_NORM))
    clipped = ops.multiply(gradient, ops.cast(factor, gradient.dtype))
    return ops.where(ops.greater(gradient_norm, max_norm), clipped, gradient)


def clip_gradients(gradients, parameters, rules, clipping, epsilon=1e-3, loss_scale=None):
    """Adaptive gradient clipping of a list of gradients (None entries pass through).

    Args:
        gradients, parameters, rules: aligned lists; rules are ClipRule.
        clipping: λ > 0.
        epsilon: ε, so that zero-initialised parameters can still move.
        loss_scale: when the gradients are of a scaled loss (mixed precision), the
            scale: the gradients are divided by it, clipped, and multiplied back, so
            the clipping sees the true gradients and the loss-scale optimizer its
            usual scaled ones. A gradient with inf/nan is passed through unclipped, so
            that the loss-scale optimizer still sees the overflow and skips the step.
    """
    clipped = []
    for gradient, parameter, rule in zip(gradients, parameters, rules, strict=True):
        if gradient is None or rule.excluded:
            clipped.append(gradient)
            continue
        gradient = ops.convert_to_tensor(gradient)
        if loss_scale is None:
            result = clip_unitwise(gradient, parameter, rule.axes, clipping, epsilon)
        else:
            scale = ops.cast(loss_scale, gradient.dtype)
            result = clip_unitwise(
                ops.divide(gradient, scale), parameter, rule.axes, clipping, epsilon
            )
            result = ops.multiply(result, scale)
        clipped.append(ops.where(ops.all(ops.isfinite(gradient)), result, gradient))
    return clipped
