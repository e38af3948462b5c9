"""Build, predict, fit and save/load on whichever backend KERAS_BACKEND selects."""

import keras
import numpy as np
import pytest

from keras_minimal.applications import VanillaNet, VanillaNetModel
from keras_minimal.applications.vanillanet.variants import TEST_CONFIG
from keras_minimal.deploy import to_deploy
from tests.helpers import randomize_batch_norms

pytestmark = pytest.mark.multibackend


def _tiny(**kwargs):
    return VanillaNet(
        TEST_CONFIG["dims"], TEST_CONFIG["strides"], classes=5, input_shape=(32, 32, 3), **kwargs
    )


def _images(n=4):
    return np.random.default_rng(0).uniform(0, 255, (n, 32, 32, 3)).astype("float32")


def test_predict_and_one_fit_step():
    model = _tiny(drop_rate=0.1)
    x, y = _images(8), np.arange(8) % 5
    probs = model.predict(x, verbose=0)
    assert probs.shape == (8, 5) and np.all(np.isfinite(probs))
    model.compile(keras.optimizers.AdamW(1e-3), "sparse_categorical_crossentropy")
    before = keras.ops.convert_to_numpy(model.get_layer("stages_0_conv1").kernel).copy()
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = keras.ops.convert_to_numpy(model.get_layer("stages_0_conv1").kernel)
    assert not np.allclose(before, after)


def test_gradients_reach_every_trainable_variable():
    """Plain SGD moves a variable exactly when its gradient is non-zero."""
    model = _tiny(classifier_activation=None)
    model.set_act_learn(0.3)
    x, y = _images(4), np.arange(4) % 5
    model.compile(
        keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    before = [keras.ops.convert_to_numpy(v).copy() for v in model.trainable_variables]
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    unchanged = [
        v.path
        for v, old in zip(model.trainable_variables, before, strict=True)
        if np.array_equal(keras.ops.convert_to_numpy(v), old)
    ]
    assert unchanged == []


@pytest.mark.parametrize("deploy", [False, True])
def test_keras_file_round_trip_keeps_class_outputs_and_lambda(tmp_path, deploy):
    model = randomize_batch_norms(_tiny(deploy=deploy))
    if not deploy:
        model.set_act_learn(0.3)
    x = _images()
    expected = model.predict(x, verbose=0)
    path = tmp_path / "vanillanet.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is VanillaNetModel
    assert loaded.act_learn == pytest.approx(model.act_learn)
    assert loaded.architecture == model.architecture
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-7)


def test_get_config_round_trip_keeps_class_outputs_and_lambda():
    model = randomize_batch_norms(_tiny())
    model.set_act_learn(0.6)
    clone = VanillaNetModel.from_config(model.get_config())
    assert type(clone) is VanillaNetModel
    assert clone.act_learn == pytest.approx(0.6)
    clone.set_weights(model.get_weights())
    x = _images()
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5)


def test_loaded_model_can_be_fused(tmp_path):
    model = randomize_batch_norms(_tiny())
    path = tmp_path / "trained.keras"
    model.save(path)
    fused = to_deploy(keras.saving.load_model(path))
    x = _images()
    np.testing.assert_allclose(
        fused.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-4, atol=1e-6
    )
