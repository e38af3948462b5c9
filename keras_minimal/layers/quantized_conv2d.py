"""Conv2D with int8 fake-quantised weights, the form quantisation-aware training trains."""

import keras
from keras import ops

from keras_minimal.layers.fake_quant import fake_quantize_weights

# Activations TFLite fuses into its int8 convolution and fully connected kernels: the
# layer's output is then the one int8 tensor that the kernel writes.
FUSED_ACTIVATIONS = ("linear", "relu", "relu6")


def check_fused_activation(layer):
    name = keras.activations.serialize(layer.activation)
    name = name if isinstance(name, str) else getattr(layer.activation, "__name__", name)
    if name not in FUSED_ACTIVATIONS:
        raise ValueError(
            f"{type(layer).__name__} fuses only {FUSED_ACTIVATIONS} (what TFLite's int8 "
            f"kernels fuse); apply other activations after its output quantiser. "
            f"Received: activation={name!r}"
        )


def add_bias(outputs, bias):
    return outputs if bias is None else ops.add(outputs, bias)


@keras.saving.register_keras_serializable(package="keras_minimal")
class QuantizedConv2D(keras.layers.Conv2D):
    """keras.layers.Conv2D whose kernel is fake-quantised per output channel.

    The kernel is rounded to int8 (symmetric, narrow range: s = max|w| / 127 per output
    channel) on every call, with a straight-through gradient, as TFLite's int8 CONV_2D
    stores it. The activation, if any, must be one TFLite fuses (FUSED_ACTIVATIONS);
    the output is quantised by the ActivationQuantizer that follows the layer. Same
    arguments and weights as Conv2D; channels_last only. With groups > 1, TensorFlow
    computes one convolution per group, each with its share of the bias (which the
    TFLite converter folds into each CONV_2D), then concatenates them.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.data_format != "channels_last":
            raise ValueError(
                f"QuantizedConv2D takes channels_last inputs. Received: "
                f"data_format={self.data_format!r}"
            )
        check_fused_activation(self)

    def call(self, inputs):
        options = dict(
            strides=list(self.strides), padding=self.padding, dilation_rate=self.dilation_rate
        )
        if self.groups == 1 or keras.backend.backend() != "tensorflow":
            kernel = fake_quantize_weights(self.kernel, axis=-1)
            outputs = add_bias(ops.conv(inputs, kernel, **options), self.bias)
            return self.activation(outputs)
        # Each group's kernel is quantised on its own (the same per-channel grid): the
        # converter cannot split an already quantised constant.
        biases = [None] * self.groups if self.bias is None else ops.split(self.bias, self.groups)
        groups = zip(
            ops.split(inputs, self.groups, axis=-1),
            ops.split(self.kernel, self.groups, axis=-1),
            biases,
            strict=True,
        )
        outputs = [
            add_bias(ops.conv(x, fake_quantize_weights(kernel, axis=-1), **options), bias)
            for x, kernel, bias in groups
        ]
        return self.activation(ops.concatenate(outputs, axis=-1))
