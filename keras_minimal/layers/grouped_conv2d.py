"""Grouped Conv2D that TensorFlow runs without XLA and that exports to TFLite and ONNX.

Keras' TensorFlow backend has no plain CPU kernel for grouped convolutions, so it wraps each
one in an XLA-compiled `tf.function`. That call is slow on CPU (XLA's CPU convolutions run
4–7× slower here than oneDNN's) and tf2onnx cannot convert it (a `StatefulPartitionedCall`:
every NFNet's ONNX export failed). On TensorFlow this layer computes the same convolution
as one plain convolution per group and a concatenation; JAX and PyTorch keep their native
grouped kernels. The variables and their layout are exactly Conv2D's.
"""

import keras
from keras import ops


def grouped_convolution(layer, inputs, kernel):
    """What `layer.convolution_op(inputs, kernel)` computes, split per group on TensorFlow."""
    options = dict(
        strides=list(layer.strides),
        padding=layer.padding,
        dilation_rate=layer.dilation_rate,
        data_format=layer.data_format,
    )
    if layer.groups == 1 or keras.backend.backend() != "tensorflow":
        return ops.conv(inputs, kernel, **options)
    channel_axis = -1 if layer.data_format == "channels_last" else 1
    outputs = [
        ops.conv(x, k, **options)
        for x, k in zip(
            ops.split(inputs, layer.groups, axis=channel_axis),
            ops.split(kernel, layer.groups, axis=-1),
            strict=True,
        )
    ]
    return ops.concatenate(outputs, axis=channel_axis)


@keras.saving.register_keras_serializable(package="keras_minimal")
class GroupedConv2D(keras.layers.Conv2D):
    """keras.layers.Conv2D whose `groups > 1` convolution avoids XLA on TensorFlow.

    Same arguments, weights and outputs as Conv2D; see the module docstring for why.
    """

    def convolution_op(self, inputs, kernel):
        return grouped_convolution(self, inputs, kernel)
