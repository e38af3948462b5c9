"""The std-0.02 init of VanillaNet and ConvNeXt is timm's trunc_normal_: bounds ±2 absolute,
so the weights have std 0.02 (Keras' TruncatedNormal cuts at ±2σ: std 0.0176, |w| ≤ 0.04)."""

import keras
import numpy as np
import pytest

from keras_minimal.applications import ConvNeXt, VanillaNet
from keras_minimal.applications.convnext.variants import TEST_CONFIG as CONVNEXT_CONFIG
from keras_minimal.applications.vanillanet.variants import TEST_CONFIG as VANILLANET_CONFIG
from keras_minimal.layers.initializers import ReferenceTruncatedNormal, reference_trunc_normal

pytestmark = pytest.mark.multibackend


def _draw(initializer, shape=(1000, 1000)):
    return keras.ops.convert_to_numpy(initializer(shape, dtype="float32"))


def test_std_is_the_requested_one_when_the_bounds_are_far():
    w = _draw(reference_trunc_normal())
    assert 0.0197 < w.std() < 0.0203
    assert abs(w.mean()) < 1e-4
    # A million N(0, 0.02²) draws reach ~4.9σ; a ±2σ truncation would stop at 0.04.
    assert np.abs(w).max() > 0.07


def test_bounds_are_absolute_as_in_pytorch():
    w = _draw(ReferenceTruncatedNormal(stddev=1.0))  # N(0, 1) cut at ±2: std 0.8796
    assert np.abs(w).max() <= 2.0
    assert 0.875 < w.std() < 0.885
    assert (np.abs(w) > 1.9).mean() > 0.005  # mass right up to the bounds


def test_seeded_and_serializable():
    initializer = ReferenceTruncatedNormal(stddev=0.1, seed=3)
    restored = keras.initializers.get(keras.initializers.serialize(initializer))
    assert isinstance(restored, ReferenceTruncatedNormal)
    assert restored.get_config() == initializer.get_config()
    np.testing.assert_array_equal(_draw(initializer, (8, 8)), _draw(restored, (8, 8)))


def _kernels(model):
    """Every conv/dense/depthwise kernel value of the model, pooled."""
    values = [
        keras.ops.convert_to_numpy(v).ravel()
        for v in model.weights
        if v.path.endswith("kernel") and len(v.shape) >= 2
    ]
    return np.concatenate(values)


@pytest.mark.parametrize(
    "build",
    [
        lambda: VanillaNet(**VANILLANET_CONFIG, input_shape=(32, 32, 3)),
        lambda: ConvNeXt(**CONVNEXT_CONFIG, input_shape=(32, 32, 3)),
    ],
    ids=["vanillanet", "convnext"],
)
def test_built_models_start_with_std_002_kernels(build):
    # Official VanillaNet _init_weights / ConvNeXt: trunc_normal_(std=.02) on every conv and
    # linear weight, VanillaNet's series-activation kernel included.
    w = _kernels(build())
    assert w.size > 100_000
    assert 0.019 < w.std() < 0.021
    assert np.abs(w).max() > 0.06
