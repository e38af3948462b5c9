"""AdaptiveMaxPooling2D with PyTorch's exact bin boundaries."""

import functools
import math

import keras
import numpy as np
from keras import ops

from keras_minimal.validation import is_integer


def adaptive_pool_bins(input_size, output_size):
    """PyTorch's AdaptiveMaxPool2d bins along one axis: [floor(i·H/o), ceil((i+1)·H/o))."""
    return [
        (math.floor(i * input_size / output_size), math.ceil((i + 1) * input_size / output_size))
        for i in range(output_size)
    ]


@functools.lru_cache(maxsize=64)
def _bin_gather_indices(input_size, output_size):
    """(output_size, widest bin) indices; short bins repeat their last index (max is unchanged)."""
    bins = adaptive_pool_bins(input_size, output_size)
    width = max(end - start for start, end in bins)
    return np.array(
        [[min(start + k, end - 1) for k in range(width)] for start, end in bins], dtype="int32"
    )


def _static_spatial_size(shape):
    height, width = shape[1], shape[2]
    if height is None or width is None:
        raise ValueError(
            "AdaptiveMaxPooling2D needs a static spatial size to place PyTorch's bins; "
            f"pass a fixed input_shape. Received: input_shape={tuple(shape)}"
        )
    return height, width


@keras.saving.register_keras_serializable(package="keras_minimal")
class AdaptiveMaxPooling2D(keras.layers.Layer):
    """Max pooling to a fixed output size, matching `torch.nn.AdaptiveMaxPool2d`.

    Bins follow PyTorch: bin i spans [floor(i·H/o), ceil((i+1)·H/o)), so that for
    sizes that do not divide (75→38, 38→19, 19→10) neighbouring bins overlap by one
    row, exactly as in the reference. Input must be channels_last with a static
    spatial size.

    Args:
        output_size: an int or a (height, width) pair.
    """

    def __init__(self, output_size, **kwargs):
        super().__init__(**kwargs)
        pair = (output_size, output_size) if is_integer(output_size) else output_size
        pair = tuple(pair) if isinstance(pair, (tuple, list)) else ()
        if len(pair) != 2 or not all(is_integer(s) and s > 0 for s in pair):
            raise ValueError(
                "output_size must be a positive int or a pair of positive ints. "
                f"Received: output_size={output_size!r}"
            )
        self.output_size = tuple(int(s) for s in pair)

    def build(self, input_shape):
        _static_spatial_size(input_shape)

    def call(self, inputs):
        # The bins of the size this call sees (a layer may be called on several sizes).
        height, width = _static_spatial_size(inputs.shape)
        rows = _bin_gather_indices(height, self.output_size[0])
        cols = _bin_gather_indices(width, self.output_size[1])
        x = ops.take(inputs, rows.reshape(-1), axis=1)
        x = ops.reshape(x, (-1, *rows.shape, x.shape[2], x.shape[3]))
        x = ops.max(x, axis=2)
        x = ops.take(x, cols.reshape(-1), axis=2)
        x = ops.reshape(x, (-1, x.shape[1], *cols.shape, x.shape[3]))
        return ops.max(x, axis=3)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.output_size, input_shape[3])

    def get_config(self):
        config = super().get_config()
        config["output_size"] = self.output_size
        return config
