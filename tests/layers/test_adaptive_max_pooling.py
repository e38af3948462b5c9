import math

import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy

from keras_minimal.layers import AdaptiveMaxPooling2D
from keras_minimal.layers.adaptive_max_pooling import adaptive_pool_bins

pytestmark = pytest.mark.multibackend


def _reference(x, out_h, out_w):
    """PyTorch's AdaptiveMaxPool2d definition, written out loop by loop."""
    b, h, w, c = x.shape
    out = np.empty((b, out_h, out_w, c), x.dtype)
    for i in range(out_h):
        h0, h1 = (i * h) // out_h, math.ceil((i + 1) * h / out_h)
        for j in range(out_w):
            w0, w1 = (j * w) // out_w, math.ceil((j + 1) * w / out_w)
            out[:, i, j] = x[:, h0:h1, w0:w1].max(axis=(1, 2))
    return out


@pytest.mark.parametrize(
    "size, output", [(75, 38), (38, 19), (19, 10), (8, 4), (7, 3), (3, 5), ((9, 6), (4, 5))]
)
def test_matches_pytorch_bins(size, output):
    size = size if isinstance(size, tuple) else (size, size)
    output = output if isinstance(output, tuple) else (output, output)
    x = np.random.default_rng(0).normal(size=(2, *size, 3)).astype("float32")
    layer = AdaptiveMaxPooling2D(output)
    np.testing.assert_array_equal(to_numpy(layer(x)), _reference(x, *output))
    assert layer.compute_output_shape((2, *size, 3)) == (2, *output, 3)


def test_one_layer_called_on_two_sizes_places_the_bins_of_each():
    layer = AdaptiveMaxPooling2D(2)
    rng = np.random.default_rng(2)
    for size in (4, 8, 7):
        x = rng.normal(size=(1, size, size, 2)).astype("float32")
        np.testing.assert_array_equal(to_numpy(layer(x)), _reference(x, 2, 2))


def test_against_torch_adaptive_max_pool2d():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).normal(size=(2, 75, 75, 8)).astype("float32")
    expected = (
        torch.nn.functional.adaptive_max_pool2d(torch.from_numpy(x).permute(0, 3, 1, 2), (38, 38))
        .permute(0, 2, 3, 1)
        .numpy()
    )
    np.testing.assert_array_equal(to_numpy(AdaptiveMaxPooling2D(38)(x)), expected)


def test_bins_overlap_where_sizes_do_not_divide():
    assert adaptive_pool_bins(75, 38)[:2] == [(0, 2), (1, 4)]
    assert adaptive_pool_bins(19, 10)[-1] == (17, 19)


def test_needs_static_size_and_valid_output():
    with pytest.raises(ValueError, match="static spatial size"):
        AdaptiveMaxPooling2D(3).build((None, None, None, 4))
    with pytest.raises(ValueError, match="output_size must be"):
        AdaptiveMaxPooling2D((0, 3))
    with pytest.raises(ValueError, match="output_size must be"):
        AdaptiveMaxPooling2D(True)
    layer = AdaptiveMaxPooling2D(np.int64(38))  # e.g. read from a config array
    assert layer.get_config()["output_size"] == (38, 38)
    assert all(type(s) is int for s in layer.output_size)
