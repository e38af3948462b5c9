"""An activation followed by a constant gain: NF-nets' variance-preserving γ·act(x)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_minimal")
def gelu_approximate(x):
    """GELU with the tanh approximation (jax.nn.gelu's default, used by DeepMind's NFNets)."""
    return keras.activations.gelu(x, approximate=True)


@keras.saving.register_keras_serializable(package="keras_minimal")
class ScaledActivation(keras.layers.Layer):
    """y = scale · activation(x), with a constant (non-trainable, not a variable) scale.

    NFNets multiply every activation by a constant γ that restores unit variance for
    N(0, 1) inputs (γ = 1.7015 for GELU, 1.7140 for ReLU) and, before each residual
    block, by β = 1/expected_std; both fold into `scale`.

    Args:
        activation: any Keras activation identifier ("gelu" is the exact GELU;
            "keras_minimal>gelu_approximate" or `gelu_approximate` the tanh form).
        scale: the constant multiplier.
    """

    def __init__(self, activation, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.activation = keras.activations.get(activation)
        self.scale = float(scale)

    def call(self, inputs):
        return ops.multiply(self.activation(inputs), ops.cast(self.scale, inputs.dtype))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(activation=keras.activations.serialize(self.activation), scale=self.scale)
        return config
