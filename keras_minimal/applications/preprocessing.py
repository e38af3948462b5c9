"""preprocess_input: what include_preprocessing=True computes, for models built without it."""

import keras
import numpy as np

from keras_minimal.applications.backbone import normalization_scale_offset


def _check_data_format(data_format):
    if data_format not in (None, "channels_last"):
        raise ValueError(
            "keras_minimal models take channels-last images: data_format must be None or "
            f'"channels_last" (transpose the images first). Received: data_format={data_format!r}'
        )


def _check_channels(shape):
    if not shape or shape[-1] != 3:
        raise ValueError(
            "preprocess_input normalises RGB images: the last axis must hold the 3 channels "
            f"(channels last). Received: an input of shape {tuple(shape)}"
        )


def preprocess_input(x, data_format=None):
    """RGB images in [0, 255] → the input of a model built with include_preprocessing=False.

    Exactly what the `preprocessing` layer of include_preprocessing=True computes inside every
    model of this package (VanillaNet, NFNet, ConvNeXt, PP-LCNet): (x/255 − mean)/std with
    ImageNet's mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225), as one multiply-add
    per channel.

    Unlike keras.applications.convnext.preprocess_input, which returns x unchanged because
    Keras' ConvNeXt always normalises inside, this one normalises: give its output to a model
    built with include_preprocessing=False. A model built with the default
    include_preprocessing=True takes x itself (it would normalise twice).

    Args:
        x: channels-last RGB images (..., 3) with values in [0, 255]: a numpy array (or
            anything np.asarray takes) or a backend tensor. Integers become floatx; floats
            keep their dtype.
        data_format: None or "channels_last", the only layout the models take.

    Returns:
        The normalised images: a numpy array for numpy input, a tensor for a tensor.
    """
    _check_data_format(data_format)
    scale, offset = normalization_scale_offset()
    if keras.ops.is_tensor(x):
        _check_channels(tuple(keras.ops.shape(x)))
        dtype = keras.backend.standardize_dtype(x.dtype)
        if not keras.backend.is_float_dtype(dtype):
            dtype = keras.config.floatx()
        x = keras.ops.cast(x, dtype)
        return x * keras.ops.convert_to_tensor(scale, dtype) + keras.ops.convert_to_tensor(
            offset, dtype
        )
    x = np.asarray(x)
    _check_channels(x.shape)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(keras.config.floatx())
    return x * np.asarray(scale, x.dtype) + np.asarray(offset, x.dtype)
