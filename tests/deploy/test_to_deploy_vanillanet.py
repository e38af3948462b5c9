import keras
import numpy as np
import pytest

from keras_minimal.applications import VanillaNet
from keras_minimal.applications.vanillanet.variants import TEST_CONFIG
from keras_minimal.deploy import to_deploy
from tests.helpers import assert_matches_reference, randomize_batch_norms, trainable_param_count

pytestmark = pytest.mark.multibackend


def _trained_tiny(**kwargs):
    kwargs.setdefault("input_shape", (64, 64, 3))
    kwargs.setdefault("classes", 10)
    kwargs.setdefault("classifier_activation", None)
    model = VanillaNet(TEST_CONFIG["dims"], TEST_CONFIG["strides"], **kwargs)
    return randomize_batch_norms(model)


def _images(shape=(2, 64, 64, 3)):
    return np.random.default_rng(0).uniform(0, 255, shape).astype("float32")


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"include_top": False, "pooling": "avg"},
        {"include_top": False},
        {"act_num": 1, "drop_rate": 0.2},
    ],
)
def test_fused_model_gives_the_same_outputs(kwargs):
    model = _trained_tiny(**kwargs)
    fused = to_deploy(model)
    x = _images()
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    assert_matches_reference(fused(x, training=False), expected, rtol=1e-5)
    assert len(fused.layers) < len(model.layers)
    assert fused.builder_config["deploy"] is True
    assert type(fused) is type(model)


def test_fused_model_computes_in_the_input_models_dtype_policy():
    model = _trained_tiny()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        fused = to_deploy(model)
    finally:
        keras.config.set_dtype_policy("float32")
    assert {layer.dtype_policy.name for layer in fused.layers} == {"float32"}
    x = _images()
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    assert_matches_reference(fused(x, training=False), expected, rtol=1e-5)


def test_a_reloaded_model_is_fused_in_its_layers_policy(tmp_path):
    # Keras gives a functional model loaded from .keras the global policy of the moment
    # as its own; the model and its fused form keep their layers' float32.
    path = str(tmp_path / "tiny.keras")
    _trained_tiny().save(path)
    keras.config.set_dtype_policy("mixed_float16")
    try:
        reloaded = keras.models.load_model(path)
        fused = to_deploy(reloaded)
    finally:
        keras.config.set_dtype_policy("float32")
    assert reloaded.dtype_policy.name == "float32"
    assert {layer.dtype_policy.name for layer in fused.layers} == {"float32"}


def test_fused_model_has_the_deploy_parameter_count():
    model = _trained_tiny()
    reference = VanillaNet(
        TEST_CONFIG["dims"],
        TEST_CONFIG["strides"],
        deploy=True,
        input_shape=(64, 64, 3),
        classes=10,
    )
    assert trainable_param_count(to_deploy(model)) == trainable_param_count(reference)


def test_input_model_is_not_modified():
    model = _trained_tiny()
    before = [w.copy() for w in model.get_weights()]
    x = _images()
    outputs_before = keras.ops.convert_to_numpy(model(x, training=False))
    to_deploy(model)
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
    assert model.builder_config["deploy"] is False
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model(x, training=False)), outputs_before
    )


def test_refuses_lambda_below_one():
    model = _trained_tiny()
    model.set_act_learn(0.5)
    with pytest.raises(ValueError, match=r"only be fused at λ = 1 \(act_learn\).*act_learn=0.5"):
        to_deploy(model)


def test_refuses_a_model_whose_layers_disagree_on_lambda():
    model = _trained_tiny()
    model.get_layer("stages_1_deep_act").set_act_learn(0.5)
    with pytest.raises(ValueError, match=r"disagree on λ \(\[0.5, 1.0\]\).*set_act_learn"):
        to_deploy(model)


def test_deploy_model_gives_an_equal_copy():
    model = _trained_tiny(deploy=True)
    copy = to_deploy(model)
    assert copy is not model
    x = _images()
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(copy(x)), keras.ops.convert_to_numpy(model(x))
    )


def test_rejects_foreign_models():
    foreign = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(TypeError, match="to_deploy needs a model built by keras_minimal"):
        to_deploy(foreign)
