"""Train, save and reload a tiny NFNet on whichever backend KERAS_BACKEND selects."""

import keras
import numpy as np
import pytest

from keras_minimal.applications import NFNet, NFNetModel
from keras_minimal.applications.nfnet.variants import TEST_CONFIG

pytestmark = pytest.mark.multibackend


def _tiny(**kwargs):
    return NFNet(**TEST_CONFIG, classes=5, input_shape=(32, 32, 3), **kwargs)


def _images(n=8):
    return np.random.default_rng(0).uniform(0, 255, (n, 32, 32, 3)).astype("float32")


def _open_skip_gains(model, seed=1):
    """Give the residual branches the non-zero skip gains of a trained network."""
    rng = np.random.default_rng(seed)
    for variable in model.trainable_weights:
        if variable.name == "skip_gain":
            variable.assign(rng.uniform(0.5, 1.5))
    return model


@pytest.mark.slow
def test_fit_with_agc_reaches_every_variable():
    model = _open_skip_gains(_tiny(drop_rate=0.2, drop_path_rate=0.25))
    model.enable_adaptive_gradient_clipping(clipping=0.01)
    model.compile(keras.optimizers.SGD(1.0), "sparse_categorical_crossentropy")
    before = [keras.ops.convert_to_numpy(v).copy() for v in model.trainable_weights]
    history = model.fit(_images(), np.arange(8) % 5, batch_size=8, epochs=1, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    unchanged = [
        v.path
        for v, old in zip(model.trainable_weights, before, strict=True)
        if np.array_equal(keras.ops.convert_to_numpy(v), old)
    ]
    assert unchanged == []


def test_keras_file_round_trip_keeps_class_outputs_and_agc(tmp_path):
    model = _open_skip_gains(_tiny())
    model.enable_adaptive_gradient_clipping(0.01)
    x = _images(2)
    expected = model.predict(x, verbose=0)
    path = tmp_path / "nfnet.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is NFNetModel
    assert loaded.architecture == model.architecture
    assert loaded.adaptive_gradient_clipping == model.adaptive_gradient_clipping
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-7)
