"""Fake quantisation against a direct numpy computation of TFLite's int8 grids, and its
straight-through gradient, on every backend."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_minimal.layers.fake_quant import fake_quantize, fake_quantize_weights
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
    gradient = _gradient(lambda t: ops.sum(fake_quantize(t, low, high) * ops.array(upstream)), x)
    np.testing.assert_array_equal(gradient, np.where(inside, upstream, 0.0))
    weights = np.array([[0.3, -1.2], [0.05, 0.7]], "float32")
    gradient = _gradient(lambda t: ops.sum(fake_quantize_weights(t, axis=-1) * 2.0), weights)
    np.testing.assert_array_equal(gradient, np.full_like(weights, 2.0))  # all within range


def _gradient(function, x):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = function(x)
        return tape.gradient(y, x).numpy()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(function)(x))
    import torch

    x = torch.tensor(x, requires_grad=True)
    function(x).backward()
    return x.grad.numpy()
