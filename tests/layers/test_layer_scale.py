import keras
import numpy as np
import pytest

from keras_minimal.layers import LayerScale

pytestmark = pytest.mark.multibackend


def test_scales_each_channel_by_its_gamma():
    layer = LayerScale(1e-6)
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 4)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), x * 1e-6, rtol=1e-6)
    gamma = np.array([0.5, -1.0, 2.0, 3.0], "float32")
    layer.gamma.assign(gamma)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), x * gamma, rtol=1e-6)
    assert [w.name for w in layer.trainable_weights] == ["gamma"]


def test_config_round_trip():
    layer = LayerScale(0.1, name="ls")
    clone = LayerScale.from_config(layer.get_config())
    assert clone.init_value == 0.1 and clone.name == "ls"


def test_rejects_non_numbers_and_unknown_channels():
    with pytest.raises(TypeError, match="init_value must be a number.*'big'"):
        LayerScale("big")
    with pytest.raises(ValueError, match="known channel"):
        LayerScale().build((None, 4, 4, None))
