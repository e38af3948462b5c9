import keras
import numpy as np
import pytest

from keras_minimal.applications import ConvNeXt, PPLCNet
from keras_minimal.applications.convnext.variants import TEST_CONFIG
from keras_minimal.deploy import to_deploy
from keras_minimal.layers import StochasticDepth
from keras_minimal.weights import load_reference
from tests.applications.test_convnext_pplcnet_parity import convnext_for
from tests.helpers import assert_matches_reference, load_fixture, randomize_batch_norms

pytestmark = pytest.mark.multibackend


def _images(side=64):
    return np.random.default_rng(0).uniform(0, 255, (2, side, side, 3)).astype("float32")


def _outputs(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"classifier_activation": None},
        {"classifier_activation": None, "head_bias": True},
        {"include_top": False, "pooling": "avg"},
        {"include_top": False},
    ],
)
def test_pplcnet_every_batch_norm_is_folded(kwargs):
    model = randomize_batch_norms(PPLCNet(0.5, input_shape=(64, 64, 3), classes=10, **kwargs))
    fused = to_deploy(model)
    x = _images()
    assert_matches_reference(_outputs(fused, x), _outputs(model, x), rtol=1e-5)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in fused.layers)
    assert len(fused.layers) < len(model.layers)
    assert fused.builder_config["deploy"] is True and model.builder_config["deploy"] is False
    # Every folded conv gained a bias: γ, β, mean and variance (4C) became C biases.
    bn_params = sum(
        int(np.prod(w.shape))
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
        for w in layer.weights
    )
    assert model.count_params() - fused.count_params() == bn_params * 3 // 4


def test_pplcnet_input_model_is_not_modified():
    model = randomize_batch_norms(PPLCNet(0.25, input_shape=(64, 64, 3)))
    before = [w.copy() for w in model.get_weights()]
    to_deploy(model)
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def test_convnext_deploy_is_the_same_network_for_export():
    model = ConvNeXt(
        TEST_CONFIG["depths"],
        TEST_CONFIG["dims"],
        drop_path_rate=0.3,
        input_shape=(64, 64, 3),
        classes=10,
        classifier_activation=None,
    )
    deployed = to_deploy(model)
    x = _images()
    assert_matches_reference(_outputs(deployed, x), _outputs(model, x), rtol=1e-5)
    assert not any(isinstance(layer, StochasticDepth) for layer in deployed.layers)
    assert any(isinstance(layer, StochasticDepth) for layer in model.layers)
    assert len(deployed.layers) < len(model.layers)
    # The single 7×7 kernels stay (the TFLite export alone splits them into row bands).
    assert type(deployed.get_layer("stages_0_block0_dwconv")) is keras.layers.DepthwiseConv2D
    assert deployed.count_params() == model.count_params()


@pytest.mark.parametrize("name", ["convnext_tiny_timm", "convnext_tiny_fb"])
def test_convnext_deploy_of_a_loaded_checkpoint_reproduces_the_reference(name):
    """Every loaded weight reaches the deploy graph, γ included (it is 1e-6 in a fresh model)."""
    fixture = load_fixture(name)
    model = load_reference(convnext_for(fixture, drop_path_rate=0.3), fixture.state_dict)
    deployed = to_deploy(model)
    assert not any(isinstance(layer, StochasticDepth) for layer in deployed.layers)
    assert_matches_reference(deployed(fixture.inputs, training=False), fixture.outputs["logits"])
