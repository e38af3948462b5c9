import math

import keras
import numpy as np
import pytest

from keras_minimal.applications import VanillaNet
from keras_minimal.applications.vanillanet.variants import TEST_CONFIG
from keras_minimal.training import DeepTrainingScheduler, act_learn_at

pytestmark = pytest.mark.multibackend


@pytest.mark.parametrize("epoch, linear", [(0, 0.0), (25, 0.25), (100, 1.0), (250, 1.0)])
def test_official_schedules(epoch, linear):
    assert act_learn_at(epoch, 100, "linear") == pytest.approx(linear)
    cosine = 0.5 * (1 - math.cos(math.pi * min(epoch, 100) / 100))
    assert act_learn_at(epoch, 100, "cosine") == pytest.approx(cosine)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="decay_epochs must be a positive integer"):
        DeepTrainingScheduler(0)
    with pytest.raises(ValueError, match="mode must be one of"):
        DeepTrainingScheduler(10, mode="step")
    with pytest.raises(ValueError, match="decay_epochs must be a positive integer"):
        DeepTrainingScheduler(True)
    assert DeepTrainingScheduler(np.int64(100)).decay_epochs == 100


def _tiny(**kwargs):
    return VanillaNet(
        TEST_CONFIG["dims"],
        TEST_CONFIG["strides"],
        classes=4,
        input_shape=(32, 32, 3),
        include_preprocessing=False,
        **kwargs,
    )


def _data(n=16):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 32, 32, 3)).astype("float32"), rng.integers(0, 4, n)


def test_lambda_takes_effect_inside_compiled_fit():
    """With lr = 0 the loss of each epoch depends on λ alone; a λ baked into the compiled
    step as a Python float would repeat epoch 0's loss in epoch 1 (XLA, jax.jit). On torch
    the step goes through torch.compile (~30 s here)."""
    x, y = _data()
    model = _tiny()
    model.compile(
        keras.optimizers.SGD(learning_rate=0.0), "sparse_categorical_crossentropy", jit_compile=True
    )

    def loss_at(act_learn):
        model.set_act_learn(act_learn)
        probs = model(x, training=True)
        loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, probs))
        return float(keras.ops.convert_to_numpy(loss))

    expected = [loss_at(0.0), loss_at(0.5), loss_at(1.0)]
    assert abs(expected[0] - expected[2]) > 1e-3
    history = model.fit(
        x,
        y,
        batch_size=16,
        epochs=3,
        verbose=0,
        shuffle=False,
        callbacks=[DeepTrainingScheduler(decay_epochs=2)],
    )
    np.testing.assert_allclose(history.history["loss"], expected, rtol=1e-4)
    assert history.history["act_learn"] == [0.0, 0.5, 1.0]
    assert model.act_learn == 1.0


@pytest.mark.parametrize(
    "mode, expected",
    [
        (None, [0.25, 0.75, 1.0]),
        ("cosine", [0.5 - 0.5 * math.sqrt(0.5), 0.5 + 0.5 * math.sqrt(0.5), 1.0]),
    ],
)
def test_each_epoch_sets_the_official_lambda_linear_by_default(mode, expected):
    model = _tiny()
    scheduler = DeepTrainingScheduler(4) if mode is None else DeepTrainingScheduler(4, mode=mode)
    scheduler.set_model(model)
    for epoch, act_learn in zip([1, 3, 6], expected, strict=True):
        scheduler.on_epoch_begin(epoch)
        assert model.act_learn == pytest.approx(act_learn)


def test_reaches_nested_vanillanets():
    backbone = _tiny(include_top=False, pooling="avg")
    model = keras.Sequential([backbone, keras.layers.Dense(4, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = _data(8)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[DeepTrainingScheduler(decay_epochs=4)])
    assert backbone.act_learn == 0.0


def test_refuses_a_model_without_lambda():
    model = _tiny(deploy=True)
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = _data(8)
    with pytest.raises(ValueError, match="found no DeepTrainingActivation.*deploy=False"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[DeepTrainingScheduler(5)])
