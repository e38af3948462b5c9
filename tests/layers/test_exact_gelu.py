import math

import keras
import numpy as np
import pytest

from keras_minimal.layers import ExactGELU, exact_gelu

pytestmark = pytest.mark.multibackend


def _reference(x):
    """x · Φ(x) with Φ the standard normal CDF, from math.erf in float64."""
    return np.array([v * 0.5 * (1.0 + math.erf(v / math.sqrt(2.0))) for v in x.ravel()]).reshape(
        x.shape
    )


def test_matches_the_normal_cdf_form():
    x = np.linspace(-8, 8, 401, dtype="float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(exact_gelu(x)), _reference(x), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(ExactGELU()(x)), _reference(x), rtol=1e-5, atol=1e-6
    )


def test_equals_keras_exact_gelu_and_differs_from_the_tanh_approximation():
    x = np.linspace(-4, 4, 81, dtype="float32")
    exact = keras.ops.convert_to_numpy(exact_gelu(x))
    np.testing.assert_allclose(
        exact, keras.ops.convert_to_numpy(keras.ops.gelu(x, approximate=False)), atol=1e-6
    )
    approximate = keras.ops.convert_to_numpy(keras.ops.gelu(x, approximate=True))
    assert np.max(np.abs(exact - approximate)) > 1e-4


def test_serializable_by_its_registered_name():
    config = keras.activations.serialize(exact_gelu)
    assert config["config"] == "keras_minimal>exact_gelu"
    assert keras.activations.get(config) is exact_gelu
    layer = keras.layers.Dense(2, activation=exact_gelu)
    config = keras.layers.serialize(layer)
    assert keras.layers.deserialize(config).activation is exact_gelu
    assert ExactGELU.from_config(ExactGELU(name="g").get_config()).name == "g"
