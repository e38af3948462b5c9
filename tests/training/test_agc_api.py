"""Adaptive gradient clipping: arguments, exclusions, defaults and serialisation."""

import keras
import numpy as np
import pytest

from keras_minimal.applications import NFNet, NFNetModel
from keras_minimal.applications.nfnet.variants import TEST_CONFIG
from keras_minimal.training import AGCModel
from keras_minimal.training.agc import AGCSettings, clip_rules
from tests.training.agc_models import every_parameter_kind, regression_data


def _excluded(model, settings):
    rules = clip_rules(model, settings)
    return sorted(
        v.path for v, rule in zip(model.trainable_weights, rules, strict=True) if rule.excluded
    )


@pytest.mark.parametrize("clipping", [0, -0.01, 0.0])
def test_clipping_must_be_positive(clipping):
    with pytest.raises(ValueError, match=r"needs clipping > 0.*Received: clipping="):
        AGCModel(every_parameter_kind(), clipping=clipping)
    with pytest.raises(ValueError, match=r"needs epsilon > 0.*Received: epsilon=0"):
        AGCSettings(0.01, epsilon=0)


def test_numpy_numbers_are_numbers():
    settings = AGCSettings(np.float32(0.01), epsilon=np.float64(1e-3))
    assert settings.clipping == pytest.approx(0.01)
    with pytest.raises(ValueError, match=r"needs clipping > 0.*Received: clipping=True"):
        AGCSettings(True)


def test_an_exclusion_that_matches_nothing_is_an_error():
    model = every_parameter_kind()
    with pytest.raises(
        ValueError,
        match=r"exclusion 'head' matches no trainable variable.*e\.g\. 'hidden/bias', "
        r"'predictions/kernel', 'predictions/bias'\. Received: exclude=\['predictions', 'head'\]",
    ):
        AGCModel(model, exclude=["predictions", "head"])
    nfnet = NFNet(**TEST_CONFIG, classes=3)
    with pytest.raises(ValueError, match="exclusion 'classifier' matches no trainable variable"):
        nfnet.enable_adaptive_gradient_clipping(exclude="classifier")
    assert nfnet.adaptive_gradient_clipping is None  # nothing was half-enabled


def test_exclusions_must_be_names():
    with pytest.raises(TypeError, match=r"exclude must be None.*Received: exclude=\[3\]"):
        AGCSettings(0.01, exclude=[3])


def test_exclusions_name_layers_or_variable_paths():
    model = every_parameter_kind()
    assert _excluded(model, AGCSettings(0.01)) == ["predictions/bias", "predictions/kernel"]
    assert _excluded(model, AGCSettings(0.01, exclude="predictions/kernel")) == [
        "predictions/kernel"
    ]
    assert _excluded(model, AGCSettings(0.01, exclude=("conv", "skip"))) == [
        "conv/bias",
        "conv/kernel",
        "skip/skip_gain",
    ]
    assert _excluded(model, AGCSettings(0.01, exclude=())) == []


def test_an_exclusion_may_name_a_nested_model():
    """A functional sub-model's variables do not carry its name in their paths
    ("stem_conv1/kernel"); naming the sub-model (a layer of the model) excludes all of them."""
    backbone = NFNet(**TEST_CONFIG, include_top=False, pooling="avg", name="backbone")
    model = keras.Sequential(
        [keras.Input((32, 32, 3)), backbone, keras.layers.Dense(3, name="head")]
    )
    backbone_paths = sorted(v.path for v in backbone.trainable_weights)
    assert _excluded(model, AGCSettings(0.01, exclude="backbone")) == backbone_paths
    head_paths = [v.path for v in model.get_layer("head").trainable_weights]
    assert _excluded(model, AGCSettings(0.01, exclude=("backbone", "head"))) == sorted(
        [*backbone_paths, *head_paths]
    )
    backbone.get_layer("stem_conv1").trainable = False  # frozen variables stay out
    assert _excluded(model, AGCSettings(0.01, exclude="backbone")) == sorted(
        v.path for v in backbone.trainable_weights
    )


def test_nfnet_excludes_its_classifier_and_a_headless_one_nothing():
    model = NFNet(**TEST_CONFIG, classes=3)
    model.enable_adaptive_gradient_clipping(0.01)
    assert _excluded(model, model.adaptive_gradient_clipping) == [
        "predictions/bias",
        "predictions/kernel",
    ]
    headless = NFNet(**TEST_CONFIG, include_top=False, pooling="avg")
    assert _excluded(headless, AGCSettings(0.01)) == []


def test_settings_survive_keras_files(tmp_path):
    model = NFNet(**TEST_CONFIG, classes=3, input_shape=(32, 32, 3))
    model.enable_adaptive_gradient_clipping(0.02, exclude=["predictions/kernel"], epsilon=1e-4)
    path = tmp_path / "nfnet.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is NFNetModel
    assert loaded.adaptive_gradient_clipping == AGCSettings(0.02, ("predictions/kernel",), 1e-4)
    plain = NFNet(**TEST_CONFIG, classes=3)
    assert "adaptive_gradient_clipping" not in plain.get_config()
    assert NFNetModel.from_config(plain.get_config()).adaptive_gradient_clipping is None

    wrapped = AGCModel(every_parameter_kind(), clipping=0.05, exclude="hidden")
    x, _ = regression_data(4)
    expected = wrapped.predict(x, verbose=0)
    path = tmp_path / "agc.keras"
    wrapped.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is AGCModel
    assert loaded.adaptive_gradient_clipping == AGCSettings(0.05, ("hidden",))
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6)


def test_a_reloaded_mixed_float16_model_still_gets_loss_scaling(tmp_path):
    # Keras does not store a functional model's own policy; the layers carry it.
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = NFNet(**TEST_CONFIG, classes=3, input_shape=(32, 32, 3))
    finally:
        keras.config.set_dtype_policy("float32")
    model.save(tmp_path / "mixed.keras")
    for copy in (
        keras.saving.load_model(tmp_path / "mixed.keras", compile=False),
        NFNetModel.from_config(model.get_config()),
    ):
        assert copy.dtype_policy.name == "mixed_float16"
        copy.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        assert isinstance(copy.optimizer, keras.optimizers.LossScaleOptimizer)
        wrapped = AGCModel(copy, clipping=0.01)
        wrapped.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        assert isinstance(wrapped.optimizer, keras.optimizers.LossScaleOptimizer)


def test_disabling_returns_to_keras_train_step():
    model = every_parameter_kind(activation=None)
    trainer = AGCModel(model, clipping=0.01).disable_adaptive_gradient_clipping()
    assert trainer.adaptive_gradient_clipping is None
    trainer.compile(keras.optimizers.SGD(3.0), "mse")
    x, y = regression_data()
    history = trainer.fit(x, y, batch_size=len(x), epochs=12, verbose=0)
    assert not np.all(np.isfinite(history.history["loss"]))  # diverges, as without AGC


@pytest.mark.multibackend
def test_a_new_wrapper_of_a_built_model_loads_weights_to_resume(tmp_path):
    """Resuming: wrap a fresh model and load the trainer's saved weights before any fit.
    The wrapper has no variables of its own; it used to stay unbuilt, so load_weights,
    count_params and summary raised "has not yet been built"."""
    x, y = regression_data(8)
    trainer = AGCModel(every_parameter_kind(), clipping=0.05)
    trainer.compile(keras.optimizers.SGD(0.1), "mse")
    trainer.fit(x, y, batch_size=8, epochs=1, verbose=0)
    path = tmp_path / "trainer.weights.h5"
    trainer.save_weights(path)

    resumed = AGCModel(every_parameter_kind(), clipping=0.05)
    assert resumed.built
    assert resumed.count_params() == trainer.count_params()
    resumed.load_weights(path)
    np.testing.assert_allclose(
        resumed.predict(x, verbose=0), trainer.predict(x, verbose=0), rtol=1e-6
    )
