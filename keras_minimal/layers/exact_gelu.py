"""GELU in its exact erf form, written so that every exporter can lower it."""

import math

import keras
from keras import ops

_INV_SQRT2 = 1.0 / math.sqrt(2.0)


@keras.saving.register_keras_serializable(package="keras_minimal")
def exact_gelu(x):
    """GELU(x) = x · Φ(x) = 0.5 · x · (1 + erf(x / √2)), PyTorch's nn.GELU() default.

    Keras' own `gelu(approximate=False)` is the same function, but TensorFlow writes it
    with `erfc`, which tf2onnx does not convert (the ONNX export then fails or
    produces a broken graph). This form only uses `erf`, which ONNX (Erf) and the
    TFLite converter (fused GELU) understand.
    """
    x = ops.convert_to_tensor(x)
    return 0.5 * x * (1.0 + ops.erf(x * _INV_SQRT2))


@keras.saving.register_keras_serializable(package="keras_minimal")
class ExactGELU(keras.layers.Layer):
    """The exact (erf) GELU as a layer; see `exact_gelu`."""

    def call(self, inputs):
        return exact_gelu(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape
