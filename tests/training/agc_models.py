"""Small models for the adaptive-gradient-clipping tests: one parameter of every kind."""

import keras
import numpy as np
from keras import layers

from keras_minimal.layers import SkipInitGain, WSConv2D


def every_parameter_kind(activation="tanh", dtype=None):
    """Conv, grouped conv, depthwise conv, WS conv (gain), scalar gain, dense, biases."""
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(8, 3, padding="same", activation=activation, name="conv", dtype=dtype)(inputs)
    x = layers.DepthwiseConv2D(
        3, padding="same", activation=activation, name="depthwise", dtype=dtype
    )(x)
    x = layers.Conv2D(
        8, 3, padding="same", groups=2, activation=activation, name="grouped", dtype=dtype
    )(x)
    x = WSConv2D(8, 1, name="ws_conv", dtype=dtype)(x)
    x = SkipInitGain(gain_initializer="ones", name="skip", dtype=dtype)(x)
    x = layers.GlobalAveragePooling2D(name="pool", dtype=dtype)(x)
    x = layers.Dense(16, activation=activation, name="hidden", dtype=dtype)(x)
    outputs = layers.Dense(4, name="predictions", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="toy")


def regression_data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8, 8, 3)).astype("float32")
    y = rng.normal(size=(n, 4)).astype("float32")
    return x, y


def unit_norms(array, kind):
    """Per-unit norms, written out per layout: columns of the (fan-in, units) matrix."""
    if kind == "whole":
        return np.array([np.sqrt(np.sum(np.square(array, dtype=np.float64)))])
    if kind == "depthwise":  # (kh, kw, channels, multiplier): a unit per (channel, multiplier)
        matrix = array.reshape(array.shape[0] * array.shape[1], -1)
    else:  # conv (kh, kw, in, out) or dense (in, out): a unit per output
        matrix = array.reshape(-1, array.shape[-1])
    return np.sqrt(np.sum(np.square(matrix, dtype=np.float64), axis=0))


# Variable path → layout kind in every_parameter_kind().
KINDS = {
    "conv/kernel": "conv",
    "depthwise/kernel": "depthwise",
    "grouped/kernel": "conv",
    "ws_conv/kernel": "conv",
    "hidden/kernel": "dense",
    "predictions/kernel": "dense",
}


def kind_of(path):
    return KINDS.get(path, "whole")  # biases, WS gains, the scalar skip gain
