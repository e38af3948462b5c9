"""Dense with int8 fake-quantised weights (per tensor), for QAT."""

import keras
from keras import ops

from keras_minimal.layers.fake_quant import fake_quantize_weights
from keras_minimal.layers.quantized_conv2d import add_bias, check_fused_activation


@keras.saving.register_keras_serializable(package="keras_minimal")
class QuantizedDense(keras.layers.Dense):
    """keras.layers.Dense whose kernel is fake-quantised to int8, one scale per tensor.

    Per tensor because TFLite's converter quantises a FULLY_CONNECTED kernel per tensor
    (per-channel fake quantisation of a Dense kernel fails to convert); symmetric and
    narrow range, rounded on every call with a straight-through gradient. The
    activation, if any, must be one that TFLite fuses; the output is quantised by the
    ActivationQuantizer after it. (A Dense over image features, as VanillaNet's 1×1
    convolutions, becomes a QuantizedConv2D with per-channel weights instead.)
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        check_fused_activation(self)

    def call(self, inputs, training=None):
        outputs = ops.matmul(inputs, fake_quantize_weights(self.kernel))
        return self.activation(add_bias(outputs, self.bias))
