"""The TFLite form of a model: depthwise kernels over 25 taps computed in row bands.

XNNPACK (TFLite's CPU delegate) runs depthwise kernels of up to 25 taps in one pass and
bigger ones on a multi-pass path that was 5–6× slower per layer here (VanillaNet's 7×7
series activations: 48.6 → 8.6 ms at 224²). TensorFlow and onnxruntime prefer the single
kernel, so only the TFLite export rebuilds the model this way; the weights are the same.
"""

import keras
from keras.src.models.functional import Functional

from keras_minimal.layers import BandedDepthwiseConv2D, SeriesActivation
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


def _needs_bands(layer):
    return _is_large_plain_depthwise(layer) or _is_large_unbanded_series(layer)


def _banded_copy(layer):
    if _is_large_unbanded_series(layer):
        return SeriesActivation.from_config({**layer.get_config(), "banded": True})
    if _is_large_plain_depthwise(layer):
        return BandedDepthwiseConv2D(
            tuple(layer.kernel_size),
            use_bias=layer.use_bias,
            dtype=layer.dtype_policy,
            name=layer.name,
        )
    return layer.__class__.from_config(layer.get_config())


def with_banded_depthwise(model):
    """`model`, or a copy with the same weights whose large depthwise kernels run in bands.

    Covers `keras.layers.DepthwiseConv2D` (stride 1, "same", odd kernel, no activation) and
    `SeriesActivation`; anything else is copied as it is. Subclassed models, which Keras
    cannot rebuild layer by layer, are returned as they are.
    """
    rebuildable = isinstance(model, (Functional, keras.Sequential))
    if not rebuildable or not any(_needs_bands(layer) for layer in model.layers):
        return model
    copy = keras.models.clone_model(model, clone_function=_banded_copy)
    copy.set_weights(model.get_weights())
    return copy
