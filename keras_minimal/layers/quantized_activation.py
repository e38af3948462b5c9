"""Activations whose int8 output range TFLite fixes, fake-quantised over that range."""

import keras
from keras import ops

from keras_minimal.layers.fake_quant import fake_quantize

# TFLite's int8 LOGISTIC and SOFTMAX write scale 1/256, zero point −128; TANH 1/128, 0.
_FIXED_RANGES = {
    "softmax": (0.0, 255.0 / 256.0),
    "sigmoid": (0.0, 255.0 / 256.0),
    "tanh": (-1.0, 127.0 / 128.0),
    "hard_sigmoid": (0.0, 1.0),
}
# hard_sigmoid has no TFLite kernel: an int8 ADD with ReLU6 fused, then an int8 MUL by
# 1/6. relu6(x + 3) lies in [0, 6] whatever x, so that tensor takes a fixed range too.
_RELU6_RANGE = (0.0, 6.0)
FIXED_RANGE_ACTIVATIONS = tuple(_FIXED_RANGES)


@keras.saving.register_keras_serializable(package="keras_minimal")
class QuantizedActivation(keras.layers.Activation):
    """keras.layers.Activation for softmax, sigmoid, tanh or hard_sigmoid, with its output
    fake-quantised over the fixed range of TFLite's int8 kernel (nothing to track).

    hard_sigmoid(x) = relu6(x + 3) / 6 is computed in the two int8 steps TFLite's graph
    takes, relu6(x + 3) quantised over [0, 6] in between. Softmax normalises the last
    axis.

    Args:
        activation: "softmax", "sigmoid", "tanh" or "hard_sigmoid".
        quantize_in_training: False for a model's output probabilities: a loss computed
            from probabilities rounded to 1/256 finds a true class at 0, clips it, and
            learns nothing from that image. They are quantised at inference only.
    """

    def __init__(self, activation, quantize_in_training=True, **kwargs):
        super().__init__(activation, **kwargs)
        self.quantize_in_training = bool(quantize_in_training)
        name = keras.activations.serialize(self.activation)
        if name not in _FIXED_RANGES:
            raise ValueError(
                f"QuantizedActivation takes one of {FIXED_RANGE_ACTIVATIONS} (activations "
                "whose int8 output range TFLite fixes). Received: "
                f"activation={name!r}"
            )
        self.kind = name
        self.output_range = _FIXED_RANGES[name]

    def call(self, inputs, training=None):
        if self.kind == "hard_sigmoid":
            outputs = fake_quantize(ops.relu6(inputs + 3.0), *_RELU6_RANGE) * (1.0 / 6.0)
        else:
            outputs = self.activation(inputs)
        if training and not self.quantize_in_training:
            return outputs
        return fake_quantize(outputs, *self.output_range)

    def get_config(self):
        config = super().get_config()
        config["quantize_in_training"] = self.quantize_in_training
        return config
