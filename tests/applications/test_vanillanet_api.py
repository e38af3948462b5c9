"""The keras.applications arguments, λ API and bad input of the VanillaNet builders."""

import inspect

import keras
import numpy as np
import pytest

from keras_minimal.applications import VanillaNet, VanillaNet5, VanillaNet13_x1_5_ada_pool
from keras_minimal.applications.backbone import IMAGENET_MEAN, IMAGENET_STD
from keras_minimal.applications.vanillanet.variants import TEST_CONFIG, VARIANTS
from keras_minimal.deploy import to_deploy
from keras_minimal.layers import AdaptiveMaxPooling2D
from tests.helpers import reference_param_counts

TINY = {"dims": TEST_CONFIG["dims"], "strides": TEST_CONFIG["strides"]}


def tiny(**kwargs):
    kwargs.setdefault("input_shape", (64, 64, 3))
    kwargs.setdefault("classes", 10)
    return VanillaNet(**TINY, **kwargs)


def test_constructor_signature_is_keras_applications():
    parameters = inspect.signature(VanillaNet5).parameters
    for name, default in [
        ("include_top", True),
        ("weights", None),
        ("input_tensor", None),
        ("input_shape", None),
        ("pooling", None),
        ("classes", 1000),
        ("classifier_activation", "softmax"),
        ("include_preprocessing", True),
        ("name", "vanillanet_5"),
    ]:
        assert parameters[name].default == default


def test_preprocessing_takes_rgb_0_255():
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    with_pre = tiny(include_preprocessing=True)
    without = tiny(include_preprocessing=False)
    without.set_weights(with_pre.get_weights())
    normalized = (x / 255.0 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    np.testing.assert_allclose(
        with_pre.predict(x, verbose=0),
        without.predict(normalized.astype("float32"), verbose=0),
        rtol=1e-4,
        atol=1e-6,
    )


def test_softmax_classifier_and_classes():
    probs = tiny(classes=7).predict(np.zeros((2, 64, 64, 3), "float32"), verbose=0)
    assert probs.shape == (2, 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize(
    "pooling, shape", [(None, (None, 2, 2, 128)), ("avg", (None, 128)), ("max", (None, 128))]
)
def test_include_top_false_pooling(pooling, shape):
    assert tiny(include_top=False, pooling=pooling).output.shape == shape


def test_input_tensor_is_used():
    tensor = keras.Input((96, 96, 3))
    model = tiny(input_tensor=tensor, input_shape=None, include_top=False)
    assert model.inputs[0] is tensor and model.input is tensor  # one input, not a list
    assert model.output.shape == (None, 3, 3, 128)
    assert to_deploy(model).input.shape == (None, 96, 96, 3)


def test_an_input_tensor_with_free_sides_is_what_the_record_keeps():
    model = tiny(input_tensor=keras.Input((None, None, 3)), input_shape=(64, 64, 3))
    assert model.builder_config["input_shape"] == [None, None, 3]
    images = np.zeros((1, 96, 96, 3), "float32")
    assert to_deploy(model)(images).shape == model(images).shape == (1, 10)


def test_input_shape_contradicting_input_tensor_is_refused():
    with pytest.raises(ValueError, match=r"input_shape \(64, 64, 3\) contradicts input_tensor's"):
        tiny(input_tensor=keras.Input((96, 96, 3)), input_shape=(64, 64, 3))
    assert tiny(input_tensor=keras.Input((96, 96, 3)), input_shape=(None, None, 3)).built


def test_layers_before_an_input_tensor_are_kept_and_not_rebuilt():
    inputs = keras.Input((64, 64, 1))
    rgb = keras.layers.Conv2D(3, 1, name="gray_to_rgb")(inputs)
    model = tiny(input_tensor=rgb, input_shape=None, include_preprocessing=False)
    assert model.input is inputs and model.get_layer("gray_to_rgb")  # keras.applications
    model.set_act_learn(1.0)
    with pytest.raises(ValueError, match="input_tensor computed by other layers \\(gray_to_rgb\\)"):
        to_deploy(model)


def test_channels_first_global_format_is_named():
    keras.config.set_image_data_format("channels_first")
    try:
        with pytest.raises(ValueError, match="channels-last images.*'channels_first'"):
            tiny()
    finally:
        keras.config.set_image_data_format("channels_last")


# models/vanillanet.py of the official code: dims in units of 128 channels (× 4, or × 6 for
# the 1.5× models) and strides; the issue gives the ada_pool sizes.
OFFICIAL_VARIANTS = {
    "vanillanet_5": (4, [128, 256, 512, 1024], [2, 2, 2]),
    "vanillanet_6": (4, [128, 256, 512, 1024, 1024], [2, 2, 2, 1]),
    "vanillanet_7": (4, [128, 128, 256, 512, 1024, 1024], [1, 2, 2, 2, 1]),
    "vanillanet_8": (4, [128, 128, 256, 512, 512, 1024, 1024], [1, 2, 2, 1, 2, 1]),
    "vanillanet_9": (4, [128, 128, 256] + [512] * 3 + [1024] * 2, [1, 2, 2, 1, 1, 2, 1]),
    "vanillanet_10": (4, [128, 128, 256] + [512] * 4 + [1024] * 2, [1, 2, 2, 1, 1, 1, 2, 1]),
    "vanillanet_11": (4, [128, 128, 256] + [512] * 5 + [1024] * 2, [1, 2, 2] + [1] * 4 + [2, 1]),
    "vanillanet_12": (4, [128, 128, 256] + [512] * 6 + [1024] * 2, [1, 2, 2] + [1] * 5 + [2, 1]),
    "vanillanet_13": (4, [128, 128, 256] + [512] * 7 + [1024] * 2, [1, 2, 2] + [1] * 6 + [2, 1]),
    "vanillanet_13_x1_5": (
        6,
        [128, 128, 256] + [512] * 7 + [1024] * 2,
        [1, 2, 2] + [1] * 6 + [2, 1],
    ),
    "vanillanet_13_x1_5_ada_pool": (
        6,
        [128, 128, 256] + [512] * 7 + [1024] * 2,
        [1, 2, 2] + [1] * 6 + [2, 1],
    ),
}


@pytest.mark.parametrize("name", sorted(OFFICIAL_VARIANTS))
def test_variant_table_is_the_official_one(name):
    multiplier, units, strides = OFFICIAL_VARIANTS[name]
    variant = VARIANTS[name]
    assert list(variant.dims) == [multiplier * u for u in units]
    assert list(variant.strides) == strides
    expected_ada_pool = (0, 38, 19, 0, 0, 0, 0, 0, 0, 10, 0) if name.endswith("ada_pool") else None
    assert variant.ada_pool == expected_ada_pool
    counts = reference_param_counts()["vanillanet"][name]
    assert (variant.train_params, variant.deploy_params) == (
        counts["train_graph_params"],
        counts["deploy_params"],
    )


def test_ada_pool_variant_pools_75_to_38_to_19_to_10():
    with keras.StatelessScope(initialize_variables=False):
        model = VanillaNet13_x1_5_ada_pool(include_top=False)
    pools = {
        layer.name: tuple(layer.output.shape[1:3])
        for layer in model.layers
        if layer.name.endswith("_pool")
    }
    assert pools == {
        "stages_1_pool": (38, 38),
        "stages_2_pool": (19, 19),
        "stages_9_pool": (10, 10),
    }
    assert all(isinstance(model.get_layer(n), AdaptiveMaxPooling2D) for n in pools)
    assert model.output.shape == (None, 10, 10, 6 * 1024)


def test_ada_pool_variant_defaults_to_224():
    with keras.StatelessScope(initialize_variables=False):
        model = VanillaNet13_x1_5_ada_pool(include_top=False)
    assert model.input.shape == (None, 224, 224, 3)
    assert model.get_layer("stem1_conv").output.shape[1:3] == (75, 75)


def test_drop_rate_is_dropout_between_pooling_and_classifier():
    model = tiny(drop_rate=0.5)
    probe = keras.Model(
        model.input, [model.get_layer("head_pool").output, model.get_layer("head_drop").output]
    )
    assert model.get_layer("cls1_fc").input is model.get_layer("head_drop").output
    x = np.random.default_rng(0).uniform(0, 255, (4, 64, 64, 3)).astype("float32")
    pooled, dropped = (keras.ops.convert_to_numpy(t) for t in probe(x, training=True))
    kept = dropped != 0
    assert 0.3 < kept.mean() < 0.7
    np.testing.assert_allclose(dropped[kept], pooled[kept] / 0.5, rtol=1e-6)
    pooled, dropped = (keras.ops.convert_to_numpy(t) for t in probe(x, training=False))
    np.testing.assert_array_equal(dropped, pooled)


def test_act_learn_api():
    model = tiny()
    assert model.act_learn == 1.0
    model.set_act_learn(0.25)
    assert model.act_learn == 0.25
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\].*Received: act_learn=1.5"):
        model.set_act_learn(1.5)
    assert model.act_learn == 0.25


def test_deploy_model_is_the_lambda_one_network():
    model = tiny(deploy=True)
    assert model.act_learn == 1.0
    model.set_act_learn(1.0)
    with pytest.raises(ValueError, match="deploy \\(fused\\) VanillaNet: it has no λ"):
        model.set_act_learn(0.5)


# --- bad input: one clear error each -------------------------------------------------------


def test_input_too_small_for_total_stride():
    with pytest.raises(ValueError, match="too small for vanillanet_5.*at least 32 pixels"):
        VanillaNet5(input_shape=(16, 16, 3))


def test_channels_must_be_three_with_preprocessing():
    with pytest.raises(ValueError, match="needs 3 channels.*include_preprocessing=False"):
        tiny(input_shape=(64, 64, 1))
    assert tiny(input_shape=(64, 64, 1), include_preprocessing=False).input.shape[-1] == 1


def test_channels_must_be_three_with_imagenet_weights():
    with pytest.raises(ValueError, match='weights="imagenet" were trained on RGB'):
        VanillaNet5(weights="imagenet", input_shape=(224, 224, 4), include_preprocessing=False)


@pytest.mark.parametrize("weights", ["imagenet21k", "/no/such/file.pth"])
def test_unknown_weights_or_missing_file(weights):
    with pytest.raises(ValueError, match='weights must be None, "imagenet", or the path'):
        tiny(weights=weights)


def test_imagenet_weights_need_1000_classes():
    with pytest.raises(ValueError, match="classes should be 1000.*Received: classes=10"):
        VanillaNet5(weights="imagenet", classes=10)


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_imagenet_classifier_activation_is_softmax_or_none(activation):
    with pytest.raises(
        ValueError,
        match=rf'must be "softmax" or None.*Received: classifier_activation={activation!r}',
    ):
        VanillaNet5(weights="imagenet", classifier_activation=activation)


def test_imagenet_weights_only_for_published_variants():
    with pytest.raises(ValueError, match="exist only for the published variants"):
        tiny(weights="imagenet", classes=1000)


def test_unknown_pooling():
    with pytest.raises(ValueError, match="pooling must be one of.*Received: pooling='mean'"):
        tiny(include_top=False, pooling="mean")


def test_inconsistent_architecture():
    with pytest.raises(ValueError, match="one more width than strides"):
        VanillaNet((16, 32), (2, 2))
    with pytest.raises(ValueError, match="ada_pool needs one output size per stage"):
        VanillaNet(**TINY, ada_pool=(0, 3))
