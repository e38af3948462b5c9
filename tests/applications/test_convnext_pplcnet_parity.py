"""Parity with the reference code: timm 1.0.31 ConvNeXt and lcnet_050, and the official
ConvNeXt (facebookresearch/ConvNeXt) — fixtures in tests/data."""

import keras
import pytest

from keras_minimal.applications import ConvNeXt, PPLCNet, feature_pyramid
from keras_minimal.weights import load_reference
from tests.helpers import assert_matches_reference, load_fixture

pytestmark = pytest.mark.multibackend


def convnext_for(fixture, **kwargs):
    config = fixture.config
    kwargs.setdefault("classes", config["num_classes"])
    return ConvNeXt(
        config["depths"],
        config["dims"],
        include_preprocessing=False,
        classifier_activation=None,
        input_shape=fixture.inputs.shape[1:],
        **kwargs,
    )


def lcnet_050_for(fixture, **kwargs):
    kwargs.setdefault("classes", fixture.config["num_classes"])
    return PPLCNet(
        0.5,
        head_bias=True,
        include_preprocessing=False,
        classifier_activation=None,
        input_shape=fixture.inputs.shape[1:],
        **kwargs,
    )


@pytest.mark.parametrize("name", ["convnext_tiny_timm", "convnext_tiny_fb"])
def test_convnext_logits(name):
    fixture = load_fixture(name)
    model = load_reference(convnext_for(fixture), fixture.state_dict)
    assert_matches_reference(model(fixture.inputs, training=False), fixture.outputs["logits"])


def test_convnext_trained_with_stochastic_depth_is_exact_at_inference():
    fixture = load_fixture("convnext_tiny_timm")
    model = load_reference(convnext_for(fixture, drop_path_rate=0.5), fixture.state_dict)
    assert_matches_reference(model(fixture.inputs, training=False), fixture.outputs["logits"])


def test_lcnet_050_logits():
    fixture = load_fixture("lcnet_050_timm")
    model = load_reference(lcnet_050_for(fixture), fixture.state_dict)
    assert_matches_reference(model(fixture.inputs, training=False), fixture.outputs["logits"])


def test_both_convnext_layouts_give_the_same_backbone_features():
    timm, official = load_fixture("convnext_tiny_timm"), load_fixture("convnext_tiny_fb")
    features = {}
    for fixture in (timm, official):
        model = load_reference(convnext_for(fixture, include_top=False), fixture.state_dict)
        features[fixture.meta["format"]] = feature_pyramid(model)(timm.inputs)
    # Both fixtures hold different random weights, so only the shapes agree…
    for level in ("P2", "P3", "P4", "P5"):
        assert features["timm"][level].shape == features["facebook"][level].shape
    # …and each headless model equals its classifier's trunk.
    model = load_reference(convnext_for(timm), timm.state_dict)
    trunk = keras.Model(model.input, model.get_layer("stages_3_block0_add").output)
    assert_matches_reference(
        features["timm"]["P5"], keras.ops.convert_to_numpy(trunk(timm.inputs)), rtol=1e-6
    )
