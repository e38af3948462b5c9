"""DepthwiseConv2D with int8 fake-quantised weights (per channel), for QAT."""

import keras
from keras import ops

from keras_minimal.layers.fake_quant import fake_quantize_weights
from keras_minimal.layers.quantized_conv2d import add_bias, check_fused_activation


@keras.saving.register_keras_serializable(package="keras_minimal")
class QuantizedDepthwiseConv2D(keras.layers.DepthwiseConv2D):
    """keras.layers.DepthwiseConv2D whose kernel is fake-quantised per channel.

    As TFLite's int8 DEPTHWISE_CONV_2D: symmetric narrow-range int8 weights with one
    scale (max|w| / 127) per channel, rounded on every call with a straight-through
    gradient. depth_multiplier 1 and channels_last only; the activation, if any, one
    that TFLite fuses. The output is quantised by the ActivationQuantizer after it.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.depth_multiplier != 1 or self.data_format != "channels_last":
            raise ValueError(
                "QuantizedDepthwiseConv2D takes depth_multiplier=1 and channels_last "
                f"inputs. Received: depth_multiplier={self.depth_multiplier}, "
                f"data_format={self.data_format!r}"
            )
        check_fused_activation(self)

    def call(self, inputs):
        kernel = fake_quantize_weights(self.kernel, axis=2)  # (kh, kw, channels, 1)
        outputs = ops.depthwise_conv(
            inputs,
            kernel,
            strides=self.strides,
            padding=self.padding,
            dilation_rate=self.dilation_rate,
        )
        return self.activation(add_bias(outputs, self.bias))
