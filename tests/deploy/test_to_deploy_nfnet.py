import keras
import numpy as np
import pytest

from keras_minimal.applications import NFNet
from keras_minimal.applications.nfnet.variants import TEST_CONFIG
from keras_minimal.deploy import to_deploy
from keras_minimal.layers import WSConv2D
from tests.helpers import assert_matches_reference, trainable_param_count

pytestmark = pytest.mark.multibackend


def _trained_tiny(**kwargs):
    """A tiny NFNet with every gain, bias and skip gain away from its initial value."""
    kwargs.setdefault("input_shape", (32, 32, 3))
    kwargs.setdefault("classifier_activation", None)
    model = NFNet(**TEST_CONFIG, classes=7, **kwargs)
    rng = np.random.default_rng(0)
    for variable in model.trainable_weights:
        if variable.name in ("gain", "bias", "skip_gain"):
            value = rng.uniform(0.5, 1.5, variable.shape).astype("float32")
            variable.assign(value)
    return model


def _images(n=2, side=32):
    return np.random.default_rng(1).uniform(0, 255, (n, side, side, 3)).astype("float32")


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"weight_standardization": "deepmind", "include_top": False, "pooling": "avg"},
        {"reference": "deepmind"},  # another stem (16, 32, 64, stem_chs) and ε = 1e-4
    ],
)
def test_folded_model_gives_the_same_outputs(kwargs):
    model = _trained_tiny(**kwargs)
    fused = to_deploy(model)
    x = _images()
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    assert_matches_reference(fused(x, training=False), expected, rtol=1e-5)
    assert not any(isinstance(layer, WSConv2D) for layer in fused.layers)
    assert fused.builder_config["deploy"] is True and type(fused) is type(model)


def test_folding_drops_exactly_the_gains_and_leaves_the_input_model_alone():
    model = _trained_tiny()
    before = [w.copy() for w in model.get_weights()]
    fused = to_deploy(model)
    gains = sum(layer.filters for layer in model.layers if isinstance(layer, WSConv2D))
    assert trainable_param_count(fused) == trainable_param_count(model) - gains
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
    assert model.builder_config["deploy"] is False
