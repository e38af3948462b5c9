"""Which activations a quantisation-aware model can compute in int8, and how."""

import keras

from keras_minimal.layers import ExactGELU, exact_gelu, gelu_approximate
from keras_minimal.layers.quantized_activation import FIXED_RANGE_ACTIVATIONS

# TFLite fuses these into the convolution before them (no int8 tensor in between).
FUSABLE = ("relu", "relu6")
# One int8 TFLite kernel each (RELU, RELU6, LEAKY_RELU, HARD_SWISH, GELU): the output
# gets a tracked range.
TRACKED = ("relu", "relu6", "leaky_relu", "hard_silu", "gelu")
LINEAR = "linear"
_OURS = {exact_gelu: "gelu", gelu_approximate: "gelu"}
SUPPORTED = (LINEAR, *TRACKED, *FIXED_RANGE_ACTIVATIONS)


def activation_kind(function):
    """The name of a Keras activation function among SUPPORTED, or None."""
    if function in _OURS:
        return _OURS[function]
    name = keras.activations.serialize(function)
    return name if name in SUPPORTED else None


def relu_layer_kind(layer):
    """keras.layers.ReLU's activation as a kind: relu, relu6, leaky_relu, or None."""
    max_value = None if layer.max_value is None else float(layer.max_value)
    slope, threshold = float(layer.negative_slope), float(layer.threshold)
    if threshold != 0.0 or max_value not in (None, 6.0) or (slope and max_value is not None):
        return None
    if slope:
        return "leaky_relu"
    return "relu" if max_value is None else "relu6"


def layer_activation_kind(layer):
    """The kind of an activation layer (Activation, ReLU, LeakyReLU, Softmax, ExactGELU),
    or None when it is not one that quantize_aware knows."""
    if isinstance(layer, keras.layers.ReLU):
        return relu_layer_kind(layer)
    if isinstance(layer, keras.layers.LeakyReLU):
        return "leaky_relu"
    if isinstance(layer, keras.layers.Softmax):
        return "softmax" if list(_axes(layer.axis)) in ([-1],) else None
    if isinstance(layer, ExactGELU):
        return "gelu"
    if type(layer) is keras.layers.Activation:
        return activation_kind(layer.activation)
    return None


def _axes(axis):
    return axis if isinstance(axis, (list, tuple)) else [axis]
