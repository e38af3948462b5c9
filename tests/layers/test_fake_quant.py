"""Fake quantisation against a direct numpy computation of TFLite's int8 grids, and its
straight-through gradient, on every backend."""

import numpy as np
import pytest
from keras import ops

from keras_minimal.layers.fake_quant import (
    converter_graph,
    fake_quantize,
    fake_quantize_average,
    fake_quantize_weights,
)
from tests.helpers import backend_gradient
from tests.numpy_reference import fake_quant as _numpy_fake_quant

pytestmark = pytest.mark.multibackend


def _grid_values(rng, low, high, shape):
    """Values away from the rounding midpoints (float orders differ there by design)."""
    x = rng.uniform(low * 1.2, high * 1.2, shape)
    steps = (x - low) / ((high - low) / 255)
    return np.where(np.abs(steps - np.round(steps) - 0.5) < 0.02, x + 1e-3, x)


def test_activation_grid_matches_numpy_with_a_nudged_zero_point():
    rng = np.random.default_rng(0)
    low, high = -1.37, 4.02  # zero at 63.9 steps: nudged to 64
    x = _grid_values(rng, low, high, (1000,)).astype("float32")
    actual = ops.convert_to_numpy(fake_quantize(x, low, high))
    expected = _numpy_fake_quant(x.astype("float64"), low, high)
    np.testing.assert_allclose(actual, expected, atol=1e-5)
    assert len(np.unique(actual)) <= 256
    assert 0.0 in ops.convert_to_numpy(fake_quantize(np.zeros(3, "float32"), low, high))


def test_weights_are_rounded_per_output_channel_to_symmetric_narrow_int8():
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(3, 3, 4, 5)).astype("float32") * np.array([0.01, 0.1, 1, 3, 10])
    actual = ops.convert_to_numpy(fake_quantize_weights(kernel, axis=-1))
    scale = np.abs(kernel).max(axis=(0, 1, 2)) / 127  # TFLite: zero point 0, levels ±127
    expected = np.clip(np.round(kernel / scale), -127, 127) * scale
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.abs(actual).max(axis=(0, 1, 2)), np.abs(kernel).max((0, 1, 2)))


def test_depthwise_weights_are_rounded_per_channel_on_axis_2():
    """Keras' own JAX and torch fake quantisation broadcasts a per-channel range along the
    last axis only; a depthwise kernel (kh, kw, C, 1) is quantised along C."""
    rng = np.random.default_rng(2)
    kernel = rng.normal(size=(3, 3, 6, 1)).astype("float32") * np.arange(1, 7)[:, None]
    actual = ops.convert_to_numpy(fake_quantize_weights(kernel, axis=2))
    scale = np.abs(kernel).max(axis=(0, 1, 3), keepdims=True) / 127
    assert actual.shape == kernel.shape
    np.testing.assert_allclose(actual, np.round(kernel / scale) * scale, rtol=1e-5, atol=1e-7)


def test_per_tensor_weights_and_an_all_zero_tensor():
    kernel = np.array([[0.5, -2.0], [1.0, 0.25]], "float32")
    actual = ops.convert_to_numpy(fake_quantize_weights(kernel))
    scale = 2.0 / 127
    np.testing.assert_allclose(actual, np.round(kernel / scale) * scale, rtol=1e-6)
    zeros = ops.convert_to_numpy(fake_quantize_weights(np.zeros((2, 3), "float32"), axis=-1))
    assert np.all(zeros == 0.0)


def test_straight_through_gradient_is_one_inside_the_range_and_zero_outside():
    low, high = -1.0, 3.0
    x = np.array([-2.5, -1.5, -0.7, 0.0, 0.31, 2.2, 2.99, 3.7, 9.0], "float32")
    upstream = np.arange(1, 10, dtype="float32")
    inside = (x >= low) & (x <= high)
    gradient = backend_gradient(
        lambda t: ops.sum(fake_quantize(t, low, high) * ops.array(upstream)), x
    )
    np.testing.assert_array_equal(gradient, np.where(inside, upstream, 0.0))
    weights = np.array([[0.3, -1.2], [0.05, 0.7]], "float32")
    gradient = backend_gradient(lambda t: ops.sum(fake_quantize_weights(t, axis=-1) * 2.0), weights)
    np.testing.assert_array_equal(gradient, np.full_like(weights, 2.0))  # all within range


def _tflite_average_pool_levels(levels):
    """TFLite's int8 AVERAGE_POOL_2D on windows of int8 levels (last axis): the sum plus or
    minus half the count, divided in C (truncated toward zero): ties away from int8 zero."""
    total, count = levels.sum(-1), levels.shape[-1]
    return np.where(total > 0, (total + count // 2) // count, -((count // 2 - total) // count))


def test_an_average_is_rounded_back_onto_its_grid_as_tflites_int8_average_pooling():
    rng = np.random.default_rng(3)
    low, high = -0.2, 51.6  # zero at int8 level −127, as after a GELU
    scale = (high - low) / 255
    zero_point = round(-low / scale) - 128
    levels = rng.integers(-128, 128, (2000, 4))  # the int8 levels of 2×2 windows
    x = ((levels - zero_point) * scale).astype("float32").mean(-1)
    expected = (_tflite_average_pool_levels(levels) - zero_point) * scale
    np.testing.assert_allclose(
        ops.convert_to_numpy(fake_quantize_average(x, low, high)), expected, atol=scale * 1e-3
    )
    # One window in four is a tie; below int8 zero fake_quantize rounds it up instead (or
    # either way, as the float average lands a hair off the tie).
    total = levels.sum(-1)
    ties_below = (total % 4 == 2) & (total < 0)
    assert ties_below.mean() > 0.1
    plain = ops.convert_to_numpy(fake_quantize(x, low, high))
    assert np.mean(np.abs(plain - expected)[ties_below] > scale / 2) > 0.5
    with converter_graph():  # the op the converters read: TFLite's kernel does the rest
        np.testing.assert_array_equal(
            ops.convert_to_numpy(fake_quantize_average(x, low, high)), plain
        )
    upstream = rng.normal(size=x.shape).astype("float32")
    gradient = backend_gradient(
        lambda t: ops.sum(fake_quantize_average(t, low, high) * ops.array(upstream)), x
    )
    np.testing.assert_allclose(gradient, upstream)  # straight through
