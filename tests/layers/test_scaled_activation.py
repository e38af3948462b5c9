import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy

from keras_minimal.layers import ScaledActivation, gelu_approximate

pytestmark = pytest.mark.multibackend


def test_scales_the_activation_and_round_trips():
    x = np.linspace(-3, 3, 13, dtype="float32").reshape(1, 13)
    layer = ScaledActivation("relu", scale=1.7139588594436646)
    np.testing.assert_allclose(to_numpy(layer(x)), 1.7139588594436646 * np.maximum(x, 0))
    clone = ScaledActivation.from_config(layer.get_config())
    assert clone.scale == layer.scale
    np.testing.assert_allclose(to_numpy(clone(x)), to_numpy(layer(x)))


def test_gelu_is_exact_and_the_tanh_form_is_available():
    from math import erf, pi, sqrt, tanh

    x = np.linspace(-3, 3, 13, dtype="float32")
    exact = np.array([v * 0.5 * (1 + erf(v / sqrt(2))) for v in x.astype(float)])
    tanh_form = np.array(
        [0.5 * v * (1 + tanh(sqrt(2 / pi) * (v + 0.044715 * v**3))) for v in x.astype(float)]
    )
    np.testing.assert_allclose(to_numpy(ScaledActivation("gelu", 2.0)(x)), 2 * exact, atol=1e-5)
    approximate = ScaledActivation(gelu_approximate, 2.0)
    np.testing.assert_allclose(to_numpy(approximate(x)), 2 * tanh_form, atol=1e-5)
    clone = ScaledActivation.from_config(approximate.get_config())
    np.testing.assert_allclose(to_numpy(clone(x)), 2 * tanh_form, atol=1e-5)
    assert np.abs(exact - tanh_form).max() > 1e-4  # the forms really differ


def test_keeps_the_compute_dtype():
    layer = ScaledActivation("gelu", 1.7, dtype="mixed_float16")
    out = layer(np.ones((2, 3), "float32"))
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
