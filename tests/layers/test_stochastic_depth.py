import keras
import numpy as np
import pytest

from keras_minimal.layers import StochasticDepth

pytestmark = pytest.mark.multibackend


def _branch(n=512):
    return np.random.default_rng(0).uniform(1.0, 2.0, (n, 2, 2, 3)).astype("float32")


def test_identity_at_inference_and_at_rate_zero():
    x = _branch(8)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(StochasticDepth(0.5)(x)), x)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(StochasticDepth(0.0)(x, training=True)), x
    )


def test_drops_whole_samples_and_rescales_the_kept_ones():
    x = _branch()
    rate = 0.25
    y = keras.ops.convert_to_numpy(StochasticDepth(rate, seed=1)(x, training=True))
    ratio = y / x
    per_sample = ratio.reshape(len(x), -1)
    # Every sample is either dropped entirely or kept entirely, scaled by 1/(1 − rate).
    np.testing.assert_allclose(per_sample.min(axis=1), per_sample.max(axis=1), rtol=1e-6)
    kept = per_sample[:, 0] != 0
    np.testing.assert_allclose(per_sample[kept, 0], 1.0 / (1.0 - rate), rtol=1e-6)
    # 512 Bernoulli(0.75) draws: the kept fraction is within ±0.08 of 0.75 (> 4σ).
    assert abs(kept.mean() - (1.0 - rate)) < 0.08


def test_successive_calls_draw_new_masks():
    layer = StochasticDepth(0.5, seed=3)
    x = _branch(64)
    first = keras.ops.convert_to_numpy(layer(x, training=True))
    second = keras.ops.convert_to_numpy(layer(x, training=True))
    assert not np.array_equal(first != 0, second != 0)


def test_config_round_trip_and_bad_rates():
    layer = StochasticDepth(0.3, seed=7)
    clone = StochasticDepth.from_config(layer.get_config())
    assert (clone.rate, clone.seed) == (0.3, 7)
    with pytest.raises(ValueError, match=r"rate must lie in \[0, 1\). Received: rate=1.0"):
        StochasticDepth(1.0)
    with pytest.raises(TypeError, match="rate must be a number"):
        StochasticDepth("high")
