"""SkipInit: a learnable scalar on a residual branch, initialised to zero."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_minimal")
class SkipInitGain(keras.layers.Layer):
    """y = x · g · scale with g a learnable scalar (initially 0) and `scale` a constant.

    At initialisation every residual branch is switched off, so a deep residual
    network starts as its shortcuts (De & Smith 2020; NFNets' `skip_gain`).

    Args:
        scale: constant multiplier (NFNets: the SE gain 2 times α).
        gain_initializer: initial value of g (default zeros).
    """

    def __init__(self, scale=1.0, gain_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)
        self.gain_initializer = keras.initializers.get(gain_initializer)

    def build(self, input_shape):
        self.skip_gain = self.add_weight(
            name="skip_gain", shape=(), initializer=self.gain_initializer, trainable=True
        )

    def call(self, inputs):
        gain = ops.cast(self.skip_gain, inputs.dtype) * ops.cast(self.scale, inputs.dtype)
        return ops.multiply(inputs, gain)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            scale=self.scale,
            gain_initializer=keras.initializers.serialize(self.gain_initializer),
        )
        return config
