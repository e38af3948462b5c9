"""ConvNeXt: keras.applications arguments, stochastic depth schedule, pyramid, bad input."""

import inspect

import keras
import numpy as np
import pytest

from keras_minimal.applications import (
    ConvNeXt,
    ConvNeXtTiny,
    ConvNeXtXLarge,
    feature_pyramid,
)
from keras_minimal.applications.convnext.model import drop_path_rates
from keras_minimal.applications.convnext.variants import TEST_CONFIG
from keras_minimal.deploy import to_deploy
from keras_minimal.layers import StochasticDepth


def tiny(**kwargs):
    kwargs.setdefault("input_shape", (64, 64, 3))
    kwargs.setdefault("classes", 10)
    return ConvNeXt(TEST_CONFIG["depths"], TEST_CONFIG["dims"], **kwargs)


def _images(n=2, side=64):
    return np.random.default_rng(0).uniform(0, 255, (n, side, side, 3)).astype("float32")


def test_constructor_signature_is_keras_applications():
    parameters = inspect.signature(ConvNeXtTiny).parameters
    for name, default in [
        ("include_top", True),
        ("weights", None),
        ("input_tensor", None),
        ("input_shape", None),
        ("pooling", None),
        ("classes", 1000),
        ("classifier_activation", "softmax"),
        ("include_preprocessing", True),
        ("name", "convnext_tiny"),
    ]:
        assert parameters[name].default == default
    builder = inspect.signature(ConvNeXt).parameters
    assert builder["drop_path_rate"].default == 0.0
    assert builder["layer_scale_init_value"].default == 1e-6
    assert builder["head_init_scale"].default == 1.0


def test_official_linear_drop_path_schedule():
    assert drop_path_rates((1, 1, 2, 1), 0.4) == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    model = tiny(drop_path_rate=0.4)
    rates = [layer.rate for layer in model.layers if isinstance(layer, StochasticDepth)]
    # The first block's rate is 0, so it has no StochasticDepth layer.
    assert rates == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert model.builder_config["drop_path_rate"] == 0.4


def test_deploy_graph_has_no_stochastic_depth():
    model = tiny(drop_path_rate=0.4, deploy=True)
    assert not any(isinstance(layer, StochasticDepth) for layer in model.layers)
    assert model.builder_config["drop_path_rate"] == 0.0


def test_head_init_scale_scales_the_classifier_init():
    keras.utils.set_random_seed(1)
    small = tiny(head_init_scale=0.001).get_layer("predictions").kernel
    keras.utils.set_random_seed(1)
    plain = tiny().get_layer("predictions").kernel
    ratio = np.std(keras.ops.convert_to_numpy(small)) / np.std(keras.ops.convert_to_numpy(plain))
    assert ratio == pytest.approx(0.001, rel=0.2)


@pytest.mark.parametrize(
    "pooling, shape", [(None, (None, 2, 2, 64)), ("avg", (None, 64)), ("max", (None, 64))]
)
def test_include_top_false_pooling(pooling, shape):
    assert tiny(include_top=False, pooling=pooling).output.shape == shape


def test_pooled_features_are_the_normalised_pre_logits():
    full = tiny(classifier_activation=None)
    headless = tiny(include_top=False, pooling="avg")
    for layer in headless.layers:
        if layer.weights:
            layer.set_weights(full.get_layer(layer.name).get_weights())
    x = _images()
    pre_logits = keras.Model(full.input, full.get_layer("head_norm").output)(x)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(headless(x)), keras.ops.convert_to_numpy(pre_logits), rtol=1e-5
    )


def test_feature_norm_normalises_the_unpooled_map_as_keras_applications_does():
    plain = tiny(include_top=False)
    normed = tiny(include_top=False, feature_norm=True)
    head_norm = normed.get_layer("head_norm")
    head_norm.gamma.assign(np.linspace(0.5, 1.5, 64))
    head_norm.beta.assign(np.linspace(-1.0, 1.0, 64))
    for layer in plain.layers:
        if layer.weights:
            layer.set_weights(normed.get_layer(layer.name).get_weights())
    x = _images()
    features = keras.ops.convert_to_numpy(plain(x)).astype("float64")
    mean = features.mean(axis=-1, keepdims=True)
    variance = features.var(axis=-1, keepdims=True)
    gamma, beta = (keras.ops.convert_to_numpy(w) for w in (head_norm.gamma, head_norm.beta))
    want = (features - mean) / np.sqrt(variance + 1e-6) * gamma + beta
    got = keras.ops.convert_to_numpy(normed(x))
    assert got.shape == (2, 2, 2, 64)
    np.testing.assert_allclose(got, want, atol=1e-4)
    # The record keeps it: the deploy graph (rebuilt from it) ends in the same norm.
    assert to_deploy(normed).get_layer("head_norm").output.shape == (None, 2, 2, 64)


def test_pyramid_outputs_are_the_four_stage_outputs():
    model = tiny(include_top=False)
    levels = model.pyramid_outputs
    assert sorted(levels) == ["P2", "P3", "P4", "P5"]
    shapes = {k: tuple(v.shape) for k, v in levels.items()}
    assert shapes == {
        "P2": (None, 16, 16, 16),
        "P3": (None, 8, 8, 32),
        "P4": (None, 4, 4, 48),
        "P5": (None, 2, 2, 64),
    }
    features = feature_pyramid(model, levels=("P3", "P5"))
    out = features(_images())
    assert sorted(out) == ["P3", "P5"]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(out["P5"]),
        keras.ops.convert_to_numpy(model(_images())),
        rtol=1e-6,
    )


def test_pyramid_of_a_classifier_and_unknown_levels():
    model = tiny()
    assert tuple(feature_pyramid(model).outputs[-1].shape) == (None, 2, 2, 64)
    with pytest.raises(ValueError, match=r"Unknown pyramid level\(s\) \['P6'\]"):
        feature_pyramid(model, levels=["P6"])
    with pytest.raises(ValueError, match="feature_pyramid needs a model built by"):
        feature_pyramid(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))


def test_dynamic_input_size():
    model = tiny(input_shape=None, include_top=False, pooling="avg")
    assert model.input.shape == (None, None, None, 3)
    assert keras.ops.convert_to_numpy(model(_images(1, 96))).shape == (1, 64)


def test_xlarge_builds_symbolically_with_its_variant_name():
    with keras.StatelessScope(initialize_variables=False):
        model = ConvNeXtXLarge(include_top=False)
    assert model.variant == "convnext_xlarge"
    assert model.get_layer("stages_3_block2_pwconv1").kernel.shape == (2048, 8192)


# --- bad input: one clear error each -------------------------------------------------------


def test_input_smaller_than_the_total_stride():
    with pytest.raises(ValueError, match="too small for convnext_tiny.*at least 32 pixels"):
        ConvNeXtTiny(input_shape=(31, 64, 3))


def test_inconsistent_architecture():
    with pytest.raises(ValueError, match="one depth and one width per stage"):
        ConvNeXt((3, 3), (96, 192, 384))
    with pytest.raises(ValueError, match=r"drop_path_rate must lie in \[0, 1\)"):
        tiny(drop_path_rate=1.0)
    with pytest.raises(ValueError, match="depths must be integers ≥ 1"):
        ConvNeXt((3, 0, 3, 3), (8, 8, 8, 8))


def test_imagenet_weights_only_for_published_variants():
    with pytest.raises(ValueError, match="exist only for the published variants"):
        tiny(weights="imagenet", classes=1000)
