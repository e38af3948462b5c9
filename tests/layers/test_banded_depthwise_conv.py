import keras
import numpy as np
import pytest

from keras_minimal.layers import BandedDepthwiseConv2D
from keras_minimal.layers.banded_depthwise_conv import row_bands
from tests.numpy_reference import depthwise_conv2d

pytestmark = pytest.mark.multibackend


@pytest.mark.parametrize("height, width", [(7, 7), (5, 5), (9, 3), (3, 11), (1, 7)])
def test_bands_cover_every_tap_once_within_the_limit(height, width):
    covered = np.zeros((height, width), int)
    radius = height // 2
    for rows, dilation in row_bands(height, width):
        assert len(rows) * width <= 25
        # "same" padding centres a band of len(rows) rows and this dilation on its rows.
        extent = (len(rows) - 1) * dilation
        assert rows == [radius - extent // 2 + k * dilation for k in range(len(rows))]
        covered[rows] += 1
    assert np.all(covered == 1)


def test_convnext_kernel_is_three_bands():
    assert row_bands(7, 7) == [([2, 3, 4], 1), ([1, 5], 4), ([0, 6], 6)]


@pytest.mark.parametrize("kernel_size, side", [(7, 9), (7, 3), (7, 2), (7, 1), (5, 6), ((7, 3), 8)])
def test_equals_a_direct_depthwise_convolution(kernel_size, side):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, side, side, 4)).astype("float32")
    layer = BandedDepthwiseConv2D(kernel_size)
    layer.build(x.shape)
    kernel = rng.normal(size=tuple(layer.kernel.shape)).astype("float32")
    bias = rng.normal(size=4).astype("float32")
    layer.set_weights([kernel, bias])
    kh, kw = kernel.shape[:2]
    padded = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    expected = depthwise_conv2d(padded, kernel, bias)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), expected, rtol=1e-5, atol=1e-5)


def test_same_weights_as_keras_depthwise_conv():
    x = np.random.default_rng(1).normal(size=(1, 10, 10, 6)).astype("float32")
    plain = keras.layers.DepthwiseConv2D(7, padding="same", bias_initializer="random_normal")
    plain.build(x.shape)
    banded = BandedDepthwiseConv2D(7)
    banded.build(x.shape)
    banded.set_weights(plain.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(banded(x)),
        keras.ops.convert_to_numpy(plain(x)),
        rtol=1e-5,
        atol=1e-6,
    )


def test_config_round_trip_and_bad_kernels():
    layer = BandedDepthwiseConv2D(7, max_taps=21, use_bias=False, name="dw")
    clone = BandedDepthwiseConv2D.from_config(layer.get_config())
    assert (clone.kernel_size, clone.max_taps, clone.use_bias) == ((7, 7), 21, False)
    with pytest.raises(ValueError, match="odd int or a pair of odd ints.*\\(6, 6\\)"):
        BandedDepthwiseConv2D(6)
    with pytest.raises(ValueError, match="max_taps must hold at least one kernel row"):
        BandedDepthwiseConv2D(7, max_taps=5)
