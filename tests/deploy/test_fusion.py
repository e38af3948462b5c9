"""The fusion maths against direct numpy computation of the unfused layers."""

import keras
import numpy as np
import pytest

from keras_minimal.deploy.fusion import BatchNormStats, fold_batch_norm, merge_pointwise_after
from tests.numpy_reference import batch_norm, conv2d, depthwise_conv2d


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _stats(rng, n, epsilon=1e-6):
    return BatchNormStats(
        gamma=rng.uniform(0.5, 1.5, n),
        beta=rng.normal(size=n),
        mean=rng.normal(size=n),
        variance=rng.uniform(0.2, 2.0, n),
        epsilon=epsilon,
    )


def _bn(x, s):
    return batch_norm(x, s.gamma, s.beta, s.mean, s.variance, s.epsilon)


@pytest.mark.parametrize("with_bias", [True, False])
def test_fold_batch_norm_into_conv(rng, with_bias):
    x = rng.normal(size=(2, 8, 8, 3))
    kernel = rng.normal(size=(4, 4, 3, 5))
    bias = rng.normal(size=5) if with_bias else None
    stats = _stats(rng, 5, epsilon=1e-3)
    folded_kernel, folded_bias = fold_batch_norm(kernel, bias, stats)
    expected = _bn(conv2d(x, kernel, bias, stride=4), stats)
    np.testing.assert_allclose(
        conv2d(x, folded_kernel, folded_bias, stride=4), expected, rtol=1e-10
    )


def test_fold_batch_norm_into_depthwise_conv(rng):
    x = rng.normal(size=(2, 6, 6, 4))
    kernel = rng.normal(size=(3, 3, 4, 1))
    stats = _stats(rng, 4)
    folded_kernel, folded_bias = fold_batch_norm(kernel, None, stats, channel_axis=2)
    expected = _bn(depthwise_conv2d(x, kernel, padding=1), stats)
    np.testing.assert_allclose(
        depthwise_conv2d(x, folded_kernel, folded_bias, padding=1), expected, rtol=1e-10
    )


def test_fold_batch_norm_into_dense(rng):
    x = rng.normal(size=(5, 7))
    kernel, bias, stats = rng.normal(size=(7, 3)), rng.normal(size=3), _stats(rng, 3)
    folded_kernel, folded_bias = fold_batch_norm(kernel, bias, stats)
    np.testing.assert_allclose(x @ folded_kernel + folded_bias, _bn(x @ kernel + bias, stats))


def test_merge_conv_then_pointwise_conv(rng):
    x = rng.normal(size=(2, 9, 9, 3))
    k1, b1 = rng.normal(size=(4, 4, 3, 6)), rng.normal(size=6)
    k2, b2 = rng.normal(size=(1, 1, 6, 5)), rng.normal(size=5)
    merged_kernel, merged_bias = merge_pointwise_after(k1, b1, k2, b2)
    assert merged_kernel.shape == (4, 4, 3, 5)
    expected = conv2d(conv2d(x, k1, b1, stride=3, padding=1), k2, b2)
    merged = conv2d(x, merged_kernel, merged_bias, stride=3, padding=1)
    np.testing.assert_allclose(merged, expected, rtol=1e-10)


def test_merge_dense_pair(rng):
    x = rng.normal(size=(4, 6))
    k1, b1, k2, b2 = (
        rng.normal(size=(6, 5)),
        rng.normal(size=5),
        rng.normal(size=(5, 3)),
        rng.normal(size=3),
    )
    merged_kernel, merged_bias = merge_pointwise_after(k1, b1, k2, b2)
    np.testing.assert_allclose(x @ merged_kernel + merged_bias, (x @ k1 + b1) @ k2 + b2)


@pytest.mark.parametrize("form, epsilon", [("timm", 1e-5), ("deepmind", 1e-4)])
@pytest.mark.parametrize("shape", [(3, 3, 4, 6), (1, 1, 8, 5), (3, 3, 1, 2)])
def test_standardize_weight_matches_per_channel_computation(rng, form, epsilon, shape):
    from keras_minimal.deploy.fusion import standardize_weight
    from tests.numpy_reference import scaled_standardized_kernel

    kernel = rng.normal(0.1, 0.5, shape).astype("float32")
    gain = rng.uniform(0.5, 2.0, shape[-1]).astype("float32")
    folded = standardize_weight(kernel, gain, epsilon, form)
    assert folded.dtype == np.float32
    expected = scaled_standardized_kernel(kernel, gain, epsilon, form)
    np.testing.assert_allclose(folded, expected, rtol=1e-6, atol=1e-7)
    # A standardised kernel has zero mean and gain²/N variance per output channel.
    flat = folded.reshape(-1, shape[-1]).astype(np.float64)
    np.testing.assert_allclose(flat.mean(axis=0), 0.0, atol=1e-6)
    fan_in = flat.shape[0]
    if fan_in > 1:
        np.testing.assert_allclose(flat.var(axis=0) * fan_in, gain**2, rtol=1e-3)


def test_standardize_weight_rejects_unknown_forms(rng):
    from keras_minimal.deploy.fusion import standardize_weight

    with pytest.raises(ValueError, match="form must be 'timm' or 'deepmind'"):
        standardize_weight(np.ones((1, 1, 2, 2)), np.ones(2), 1e-5, "batch_norm")


def test_batch_norm_stats_from_a_keras_layer_keep_its_epsilon(rng):
    layer = keras.layers.BatchNormalization(epsilon=1e-3)
    layer.build((None, 3))
    values = [
        rng.uniform(0.5, 1.5, 3),
        rng.normal(size=3),
        rng.normal(size=3),
        1e-3 * rng.uniform(0.5, 2.0, 3),
    ]
    layer.set_weights([v.astype("float32") for v in values])
    stats = BatchNormStats.from_layer(layer)
    assert stats.epsilon == pytest.approx(1e-3)
    x = rng.normal(size=(4, 3))
    kernel, bias = fold_batch_norm(np.eye(3), None, stats)
    np.testing.assert_allclose(x @ kernel + bias, batch_norm(x, *values, 1e-3), rtol=1e-5)
