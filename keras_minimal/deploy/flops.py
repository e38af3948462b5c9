"""Multiply-accumulates (MACs) per image, counted the way the papers report "FLOPs".

Convolutions and dense layers count; normalisation, activations, pooling and
element-wise ops do not (as in fvcore / torchprofile / the papers' tables). A layer
that owns a kernel but has no counter raises instead of being silently skipped;
families register counters for their composite layers with `register_mac_counter`.
"""

import math

import keras

from keras_minimal.layers import BandedDepthwiseConv2D, SeriesActivation

_COUNTERS = {}


def register_mac_counter(layer_class, counter):
    """counter(layer, input_shape, output_shape) → MACs for one image."""
    _COUNTERS[layer_class] = counter


def _spatial(shape):
    return math.prod(d for d in shape[1:-1])


def _conv_macs(layer, input_shape, output_shape):
    kh, kw = layer.kernel_size
    groups = getattr(layer, "groups", 1)
    return _spatial(output_shape) * output_shape[-1] * kh * kw * input_shape[-1] // groups


def _depthwise_macs(layer, input_shape, output_shape):
    kh, kw = layer.kernel_size
    return _spatial(output_shape) * output_shape[-1] * kh * kw


def _dense_macs(layer, input_shape, output_shape):
    return math.prod(output_shape[1:]) * input_shape[-1]


def _series_activation_macs(layer, input_shape, output_shape):
    return _depthwise_macs(layer.depthwise, input_shape, output_shape)


register_mac_counter(keras.layers.Conv2D, _conv_macs)
register_mac_counter(keras.layers.DepthwiseConv2D, _depthwise_macs)
# Its row bands partition the kernel's taps, so it costs what the full kernel costs.
register_mac_counter(BandedDepthwiseConv2D, _depthwise_macs)
register_mac_counter(keras.layers.Dense, _dense_macs)
register_mac_counter(SeriesActivation, _series_activation_macs)


def _counter_for(layer):
    for cls in type(layer).__mro__:
        if cls in _COUNTERS:
            return _COUNTERS[cls]
    return None


def _owns_kernel(layer):
    return any(len(w.shape) >= 2 for w in layer.weights)


def _shape(tensor):
    return tuple(tensor.shape)


def count_macs(model):
    """MACs for one image through `model` (its input size must be static)."""
    if any(d is None for d in model.input.shape[1:]):
        raise ValueError(
            "count_macs needs a static input size; build the model with input_shape=(H, W, C). "
            f"Received: input shape {tuple(model.input.shape)}"
        )
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += count_macs(layer)
            continue
        counter = _counter_for(layer)
        if counter is None:
            if _owns_kernel(layer):
                raise TypeError(
                    f"No MAC counter for layer {layer.name!r} ({type(layer).__name__}); "
                    "register one with keras_minimal.deploy.flops.register_mac_counter."
                )
            continue
        total += counter(layer, _shape(layer.input), _shape(layer.output))
    return total
