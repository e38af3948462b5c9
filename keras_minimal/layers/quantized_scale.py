"""Multiplication by a scalar or per-channel factor with int8 fake-quantised factors."""

import keras

from keras_minimal.layers.fake_quant import fake_quantize_weights


@keras.saving.register_keras_serializable(package="keras_minimal")
class QuantizedScale(keras.layers.Layer):
    """y = x · s, with s a scalar or one factor per channel (last axis), fake-quantised
    to int8 per tensor (symmetric, narrow range), as TFLite's int8 MUL takes a constant.

    The quantisation-aware form of LayerScale (per channel), SkipInitGain and the
    constant gain of ScaledActivation (scalars). `s` is the variable `scale`, trainable
    unless the layer is built with trainable=False; its initial value is 1.

    Args:
        per_channel: one factor per channel instead of a scalar.
    """

    def __init__(self, per_channel=False, **kwargs):
        super().__init__(**kwargs)
        self.per_channel = bool(per_channel)

    def build(self, input_shape):
        shape = (input_shape[-1],) if self.per_channel else ()
        self.scale = self.add_weight(name="scale", shape=shape, initializer="ones")

    def call(self, inputs):
        return inputs * fake_quantize_weights(self.scale)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["per_channel"] = self.per_channel
        return config
