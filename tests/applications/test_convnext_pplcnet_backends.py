"""Fit (stochastic depth, dropout, XLA / jax.jit), gradients and saving on every backend."""

import keras
import numpy as np
import pytest

from keras_minimal.applications import BackboneModel, ConvNeXt, PPLCNet
from keras_minimal.applications.convnext.variants import TEST_CONFIG
from tests.helpers import randomize_batch_norms

pytestmark = pytest.mark.multibackend

# torch.compile takes minutes on this CPU, so the torch backend fits eagerly; TensorFlow
# (XLA) and JAX (jax.jit) fit compiled, which is where a StochasticDepth without its own
# SeedGenerator state breaks.
JIT_COMPILE = keras.backend.backend() != "torch"


def _convnext(**kwargs):
    return ConvNeXt(
        TEST_CONFIG["depths"], TEST_CONFIG["dims"], classes=5, input_shape=(32, 32, 3), **kwargs
    )


def _pplcnet(**kwargs):
    return PPLCNet(0.25, classes=5, input_shape=(32, 32, 3), **kwargs)


def _data(n=8):
    x = np.random.default_rng(0).uniform(0, 255, (n, 32, 32, 3)).astype("float32")
    return x, np.arange(n) % 5


def _values(model):
    return [keras.ops.convert_to_numpy(v).copy() for v in model.trainable_variables]


@pytest.mark.slow
@pytest.mark.parametrize(
    "build",
    [
        # γ = 1e-6 scales the blocks' gradients below float32 resolution of their weights
        # after one step; a larger γ lets the test see every variable move.
        lambda: _convnext(
            drop_path_rate=0.3, layer_scale_init_value=0.5, classifier_activation=None
        ),
        lambda: _pplcnet(dropout_rate=0.2, classifier_activation=None),
    ],
    ids=["convnext", "pplcnet"],
)
def test_compiled_fit_reaches_every_variable(build):
    """Plain SGD moves a variable exactly when its gradient is non-zero."""
    model = build()
    model.compile(
        keras.optimizers.SGD(0.1),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=JIT_COMPILE,
    )
    x, y = _data()
    before = _values(model)
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    unchanged = [
        v.path
        for v, old in zip(model.trainable_variables, before, strict=True)
        if np.array_equal(keras.ops.convert_to_numpy(v), old)
    ]
    assert unchanged == []


def test_stochastic_depth_differs_between_steps_but_not_at_inference():
    model = _convnext(drop_path_rate=0.9, layer_scale_init_value=1.0, classifier_activation=None)
    x, _ = _data(16)
    first = keras.ops.convert_to_numpy(model(x, training=True))
    second = keras.ops.convert_to_numpy(model(x, training=True))
    assert not np.allclose(first, second)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model(x, training=False)),
        keras.ops.convert_to_numpy(model(x, training=False)),
    )


@pytest.mark.parametrize(
    "build",
    [lambda: _convnext(drop_path_rate=0.2), lambda: randomize_batch_norms(_pplcnet())],
    ids=["convnext", "pplcnet"],
)
def test_keras_file_round_trip_keeps_architecture_and_pyramid(tmp_path, build):
    model = build()
    x, _ = _data(4)
    expected = model.predict(x, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is BackboneModel
    assert loaded.architecture == model.architecture
    assert sorted(loaded.pyramid_outputs) == ["P2", "P3", "P4", "P5"]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-7)
