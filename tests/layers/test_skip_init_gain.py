import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy

from keras_minimal.layers import SkipInitGain

pytestmark = pytest.mark.multibackend


def test_starts_at_zero_and_multiplies_by_gain_times_scale():
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 4)).astype("float32")
    layer = SkipInitGain(scale=0.4)
    np.testing.assert_array_equal(to_numpy(layer(x)), 0.0)
    assert [v.shape for v in layer.trainable_weights] == [()]
    layer.skip_gain.assign(1.5)
    np.testing.assert_allclose(to_numpy(layer(x)), 0.6 * x, rtol=1e-6)


def test_config_round_trips_with_the_initial_gain():
    layer = SkipInitGain(scale=2.0, gain_initializer=keras.initializers.Constant(0.5))
    clone = SkipInitGain.from_config(layer.get_config())
    x = np.ones((1, 4), "float32")
    np.testing.assert_allclose(to_numpy(clone(x)), 1.0)
    assert clone.scale == 2.0
