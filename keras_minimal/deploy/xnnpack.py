"""The TFLite form of a model: what XNNPACK (TFLite's CPU delegate) runs fastest, same weights.

- Depthwise kernels over 25 taps are computed in row bands. XNNPACK runs depthwise kernels
  of up to 25 taps in one pass and bigger ones on a multi-pass path that was 5–6× slower
  per layer here (VanillaNet's 7×7 series activations: 48.6 → 8.6 ms at 224²).
- Grouped convolutions are one convolution. `GroupedConv2D` splits them per group on
  TensorFlow, which the converter writes as SPLIT, one CONV_2D per group and
  CONCATENATION; XNNPACK takes neither a split nor a concatenation of more than four
  tensors, so every 6-group convolution of NFNet-F0 cut the delegated graph in two (37
  partitions). Keras' own `Conv2D(groups=g)` (an XLA-compiled function on TensorFlow)
  converts to one grouped CONV_2D, which XNNPACK runs.
- A Dense layer on a pooled (N, 1, 1, C) map (NFNet's squeeze-excite) is a 1×1
  convolution. With a dynamic batch the converter writes such a Dense as a tensordot
  (SHAPE, GATHER, REDUCE_PROD, PACK, CONCATENATION and two RESHAPEs) that XNNPACK leaves
  to TFLite's own kernels, two more partitions per squeeze-excite.

TensorFlow and onnxruntime prefer the original layers (oneDNN's single depthwise kernel; a
grouped convolution TensorFlow runs without XLA, which the ONNX rewrite merges), so only the
TFLite export rebuilds the model this way.
"""

import keras
import numpy as np
from keras.src.models.functional import Functional

from keras_minimal.layers import BandedDepthwiseConv2D, GroupedConv2D, SeriesActivation
from keras_minimal.layers.banded_depthwise_conv import XNNPACK_UNIPASS_TAPS


def _is_large_plain_depthwise(layer):
    if type(layer) is not keras.layers.DepthwiseConv2D:
        return False
    kh, kw = layer.kernel_size
    return (
        kh * kw > XNNPACK_UNIPASS_TAPS
        and kw <= XNNPACK_UNIPASS_TAPS  # a band holds whole kernel rows
        and kh % 2 == 1
        and kw % 2 == 1
        and tuple(layer.strides) == (1, 1)
        and tuple(layer.dilation_rate) == (1, 1)
        and layer.padding == "same"
        and layer.depth_multiplier == 1
        and layer.data_format == "channels_last"
        and layer.activation is keras.activations.linear
    )


def _is_large_unbanded_series(layer):
    if not isinstance(layer, SeriesActivation) or layer.banded:
        return False
    side = 2 * layer.act_num + 1
    return side**2 > XNNPACK_UNIPASS_TAPS and side <= XNNPACK_UNIPASS_TAPS


def _is_split_grouped_conv(layer):
    # Only the plain layer: WSConv2D (a subclass) computes its kernel on every call.
    return type(layer) is GroupedConv2D and layer.groups > 1


def _is_dense_on_pooled_map(layer):
    if type(layer) is not keras.layers.Dense:
        return False
    shape = tuple(layer.input.shape)
    return len(shape) == 4 and shape[1:3] == (1, 1)


def _needs_rewrite(layer):
    return (
        _is_large_plain_depthwise(layer)
        or _is_large_unbanded_series(layer)
        or _is_split_grouped_conv(layer)
        or _is_dense_on_pooled_map(layer)
    )


def _xnnpack_copy(layer):
    if _is_large_unbanded_series(layer):
        return SeriesActivation.from_config({**layer.get_config(), "banded": True})
    if _is_large_plain_depthwise(layer):
        return BandedDepthwiseConv2D(
            tuple(layer.kernel_size),
            use_bias=layer.use_bias,
            dtype=layer.dtype_policy,
            name=layer.name,
        )
    if _is_split_grouped_conv(layer):
        return keras.layers.Conv2D.from_config(layer.get_config())
    if _is_dense_on_pooled_map(layer):
        return keras.layers.Conv2D(
            layer.units,
            1,
            activation=layer.activation,
            use_bias=layer.use_bias,
            dtype=layer.dtype_policy,
            name=layer.name,
        )
    return layer.__class__.from_config(layer.get_config())


def for_xnnpack(model):
    """`model`, or a copy with the same weights in the form XNNPACK runs fastest.

    Large depthwise kernels run in row bands: `keras.layers.DepthwiseConv2D` (stride 1,
    "same", odd kernel, no activation) and `SeriesActivation`. Each `GroupedConv2D` with
    groups > 1 becomes `keras.layers.Conv2D` (the same variables), one grouped
    convolution, and each Dense on a (N, 1, 1, C) input a 1×1 `keras.layers.Conv2D` (its
    kernel reshaped). Anything else is copied as it is. Subclassed models, which Keras
    cannot rebuild layer by layer, are returned as they are.
    """
    rebuildable = isinstance(model, (Functional, keras.Sequential))
    if not rebuildable or not any(_needs_rewrite(layer) for layer in model.layers):
        return model
    copy = keras.models.clone_model(model, clone_function=_xnnpack_copy)
    # The same values in every variable; a Dense kernel (C, units) becomes (1, 1, C, units).
    copy.set_weights(
        [
            np.reshape(value, target.shape)
            for value, target in zip(model.get_weights(), copy.weights, strict=True)
        ]
    )
    return copy
