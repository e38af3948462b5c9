"""A large depthwise kernel computed as a sum of small ones, for XNNPACK (TFLite)."""

import keras
from keras import ops

from keras_minimal.layers.initializers import reference_trunc_normal

# XNNPACK runs depthwise kernels of up to 25 taps (5×5, 3×7, 2×7, …) with its fast
# single-pass micro-kernels; bigger ones (ConvNeXt's 7×7 = 49 taps) take a multi-pass
# path that was several times slower per layer in our smoke runs.
XNNPACK_UNIPASS_TAPS = 25


def row_bands(kernel_height, kernel_width, max_taps=XNNPACK_UNIPASS_TAPS):
    """[(kernel rows, vertical dilation)] whose 'same'-padded convolutions sum to the full one.

    The centre band takes as many middle rows as fit in `max_taps`; every remaining row
    pair (−d, +d) is a 2-row kernel with vertical dilation 2d, which "same" padding
    centres exactly on those two rows. Every tap of the kernel is in exactly one band.
    """
    radius = kernel_height // 2
    half = max(0, min(radius, (max_taps // kernel_width - 1) // 2))
    bands = [(list(range(radius - half, radius + half + 1)), 1)]
    bands += [([radius - d, radius + d], 2 * d) for d in range(half + 1, radius + 1)]
    return bands


@keras.saving.register_keras_serializable(package="keras_minimal")
class BandedDepthwiseConv2D(keras.layers.Layer):
    """Depthwise convolution (stride 1, "same" padding, odd kernel) computed in row bands.

    The same function, weights (`kernel` of shape (kh, kw, C, 1) and `bias`) and checkpoint
    layout as `keras.layers.DepthwiseConv2D(kernel_size, padding="same")`; the output is
    the sum of the bands of `row_bands`, each a depthwise convolution of at most
    `max_taps` taps. Exact in real arithmetic (float32 rounding differs in the last bits).
    Use it in inference graphs exported to TFLite, whose XNNPACK delegate is much faster
    on small kernels.

    Args:
        kernel_size: odd int or (height, width) pair of odd ints.
        max_taps: the largest band, in taps (default: XNNPACK's single-pass limit, 25).
        use_bias: add a per-channel bias.
    """

    def __init__(self, kernel_size, max_taps=XNNPACK_UNIPASS_TAPS, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        if isinstance(kernel_size, int):
            kernel_size = (kernel_size, kernel_size)
        kernel_size = tuple(kernel_size)
        if len(kernel_size) != 2 or not all(isinstance(k, int) and k % 2 for k in kernel_size):
            raise ValueError(
                'kernel_size must be an odd int or a pair of odd ints ("same" padding is then '
                f"symmetric). Received: kernel_size={kernel_size!r}"
            )
        if max_taps < kernel_size[1]:
            raise ValueError(
                f"max_taps must hold at least one kernel row ({kernel_size[1]} taps). "
                f"Received: max_taps={max_taps}"
            )
        self.kernel_size = kernel_size
        self.max_taps = max_taps
        self.use_bias = use_bias
        self.bands = row_bands(*kernel_size, max_taps)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.kernel = self.add_weight(
            name="kernel",
            shape=(*self.kernel_size, channels, 1),
            initializer=reference_trunc_normal(),
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(channels,), initializer="zeros")

    def call(self, inputs):
        kernel = ops.cast(self.kernel, inputs.dtype)
        height = inputs.shape[1]
        outputs = None
        for rows, dilation in self.bands:
            if dilation > 1 and height is not None and dilation // 2 >= height:
                # Its two rows sit ±dilation/2 from each output row: only padding. Skipping it
                # is exact, and spares int8 TFLite an all-zero tensor, whose degenerate
                # quantisation XNNPACK refuses to prepare.
                continue
            if dilation == 1:
                band = kernel[rows[0] : rows[-1] + 1]
            else:
                band = ops.stack([kernel[row] for row in rows])
            y = ops.depthwise_conv(
                inputs, band, strides=1, padding="same", dilation_rate=(dilation, 1)
            )
            outputs = y if outputs is None else outputs + y
        if self.bias is not None:
            outputs = outputs + ops.cast(self.bias, inputs.dtype)
        return outputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(kernel_size=self.kernel_size, max_taps=self.max_taps, use_bias=self.use_bias)
        return config
