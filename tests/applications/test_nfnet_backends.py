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


def _ceil_mode_average_pool(x):
    """timm's transition pool: AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False)."""
    n, h, w, c = x.shape
    out = np.zeros((n, -(-h // 2), -(-w // 2), c), x.dtype)
    for i in range(out.shape[1]):
        for j in range(out.shape[2]):
            out[:, i, j] = x[:, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2].mean(axis=(1, 2))
    return out


def test_transition_shortcut_pools_odd_maps_like_timm():
    # 50 px: the stem's two stride-2 convolutions leave 13×13 for stage 1's strided transition.
    model = NFNet(**TEST_CONFIG, classes=5, input_shape=(50, 50, 3))
    pooled = model.get_layer("stages_1_0_downsample_pool")
    activated = model.get_layer("stages_1_0_act1")
    probe = keras.Model(model.input, [activated.output, pooled.output])
    images = np.random.default_rng(0).uniform(0, 255, (2, 50, 50, 3)).astype("float32")
    before, after = (keras.ops.convert_to_numpy(t) for t in probe(images))
    assert before.shape[1:3] == (13, 13)
    np.testing.assert_allclose(after, _ceil_mode_average_pool(before), rtol=1e-5, atol=1e-6)
