"""The EMA of the BatchNorm statistics (timm's ModelEmaV2/V3) next to Keras' EMA of the
weights: checked against a numpy EMA of the statistics recorded after every step."""

import keras
import numpy as np
import pytest

from keras_minimal.applications import VanillaNet
from keras_minimal.applications.vanillanet.variants import TEST_CONFIG
from keras_minimal.layers.deep_training_activation import deep_training_layers
from keras_minimal.training import AGCModel, ema
from keras_minimal.training.optimizers import SGD

pytestmark = pytest.mark.multibackend

EMA_MOMENTUM = 0.9


def _numpy(variables):
    return [keras.ops.convert_to_numpy(v) for v in variables]


def _moving_statistics(model):
    """BatchNorm's moving mean and variance, found by name (independent of ema.py)."""
    return [v for v in model.non_trainable_variables if v.path.split("/")[-1].startswith("moving_")]


class _RecordStatistics(keras.callbacks.Callback):
    """The BatchNorm statistics after every batch."""

    def __init__(self):
        super().__init__()
        self.after_batch = []

    def on_train_batch_end(self, batch, logs=None):
        if hasattr(self.model, "jax_state_sync"):
            self.model.jax_state_sync()
        self.after_batch.append(_numpy(_moving_statistics(self.model)))


def _numpy_ema(steps, momentum=EMA_MOMENTUM):
    """Keras' rule in float32: the first value is copied, then m·average + (1 − m)·value."""
    m = np.float32(momentum)
    average = [v.copy() for v in steps[0]]
    for values in steps[1:]:
        average = [m * a + (np.float32(1) - m) * v for a, v in zip(average, values, strict=True)]
    return average


def _assert_numpy_ema(actual, expected):
    # XLA (JAX's jitted update) fuses the multiply-add: equal up to float32 rounding.
    np.testing.assert_array_max_ulp(actual, expected, maxulp=4)


def _dense_model():
    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3),
            keras.layers.BatchNormalization(momentum=0.5),  # statistics that move fast
            keras.layers.Dense(1),
        ]
    )


def _data(n=40):
    x = np.random.default_rng(0).normal(1.0, 2.0, (n, 4)).astype("float32")
    return x, x[:, :1] - x[:, 1:2]


def _fit(model, callbacks, **optimizer_kwargs):
    optimizer = SGD(0.1, use_ema=True, ema_momentum=EMA_MOMENTUM, **optimizer_kwargs)
    optimizer.finalize_with_ema = False  # keep the trained weights in the model after fit
    model.compile(optimizer, "mse")
    callbacks = [ema.track_statistics(model), *callbacks]
    x, y = _data()
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=callbacks)


def test_ema_weights_hold_the_numpy_ema_of_the_statistics_and_give_them_back():
    model, record = _dense_model(), _RecordStatistics()
    _fit(model, [record])
    assert len(record.after_batch) == 5
    expected = _numpy_ema(record.after_batch)
    trained = _numpy(model.variables)
    weights_ema = ema.ema_values(model)
    with ema.ema_weights(model):
        for actual, wanted in zip(_numpy(_moving_statistics(model)), expected, strict=True):
            _assert_numpy_ema(actual, wanted)
        for actual, wanted in zip(_numpy(model.trainable_variables), weights_ema, strict=True):
            np.testing.assert_array_equal(actual, wanted)
    # The raw statistics differ from their average, and come back bit for bit.
    assert not np.array_equal(record.after_batch[-1][0], expected[0])
    for actual, wanted in zip(_numpy(model.variables), trained, strict=True):
        np.testing.assert_array_equal(actual, wanted)


def test_averaging_does_not_change_training():
    tracked, untracked = _dense_model(), _dense_model()
    _fit(tracked, [])
    optimizer = SGD(0.1, use_ema=True, ema_momentum=EMA_MOMENTUM)
    optimizer.finalize_with_ema = False
    untracked.compile(optimizer, "mse")
    untracked.fit(*_data(), batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(_numpy(tracked.variables), _numpy(untracked.variables), strict=True):
        np.testing.assert_array_equal(a, b)


def test_statistics_are_averaged_once_per_optimizer_update():
    # With gradient accumulation over 2 batches the optimizer (and its EMA) steps every
    # second batch: the statistics' EMA is taken at those steps only.
    model, record = _dense_model(), _RecordStatistics()
    _fit(model, [record], gradient_accumulation_steps=2)
    expected = _numpy_ema(record.after_batch[1::2])
    for (_, actual), wanted in zip(ema.statistic_ema_values(model), expected, strict=True):
        _assert_numpy_ema(actual, wanted)


def test_after_fit_the_model_keeps_the_ema_statistics_with_the_ema_weights():
    """Keras leaves the EMA weights in the model when fit returns (use_ema=True): the EMA
    statistics come with them, so the model is timm's EMA model."""
    model, record = _dense_model(), _RecordStatistics()
    model.compile(keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=EMA_MOMENTUM), "mse")
    x, y = _data()
    model.fit(
        x,
        y,
        batch_size=8,
        shuffle=False,
        verbose=0,
        callbacks=[ema.track_statistics(model), record],
    )
    for actual, wanted in zip(
        _numpy(_moving_statistics(model)), _numpy_ema(record.after_batch), strict=True
    ):
        _assert_numpy_ema(actual, wanted)


def _tiny_vanillanet():
    return VanillaNet(
        TEST_CONFIG["dims"],
        TEST_CONFIG["strides"],
        classes=3,
        input_shape=(32, 32, 3),
        include_preprocessing=False,
        classifier_activation=None,
        drop_rate=0.1,  # a seed generator
    )


@pytest.mark.parametrize("wrap", [False, True], ids=["model", "agc_model"])
def test_lambda_and_seed_states_are_not_averaged(wrap):
    network = _tiny_vanillanet()
    network.set_act_learn(0.0)
    model = AGCModel(network, clipping=0.01) if wrap else network
    averaged = ema.averaged_statistics(model)
    assert [v.path for v in averaged] == [v.path for v in _moving_statistics(network)]
    assert any("act_learn" in v.path for v in network.non_trainable_variables)
    assert any("seed_generator" in v.path for v in network.non_trainable_variables)

    model.compile(SGD(0.1, use_ema=True, ema_momentum=EMA_MOMENTUM), "mse", jit_compile=False)
    model.optimizer.build(model.trainable_variables)
    before = len(model.optimizer.variables)
    callback = ema.track_statistics(model)
    assert len(model.optimizer.variables) == before + len(averaged) + 1  # + the step counter
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (8, 32, 32, 3)).astype("float32")
    y = rng.normal(0, 1, (8, 3)).astype("float32")
    model.optimizer.finalize_with_ema = False
    model.fit(x, y, batch_size=4, verbose=0, callbacks=[callback])

    network.set_act_learn(0.7)  # λ moves on after training: the EMA model shares it
    deep_layers = deep_training_layers(network)
    assert deep_layers
    raw = _numpy(averaged)
    averages = [value for _, value in ema.statistic_ema_values(model)]
    with ema.ema_weights(model):
        assert all(layer.act_learn_value == pytest.approx(0.7) for layer in deep_layers)
        for actual, wanted in zip(_numpy(averaged), averages, strict=True):
            np.testing.assert_array_equal(actual, wanted)
    assert not all(np.array_equal(a, b) for a, b in zip(raw, averages, strict=True))
    assert all(layer.act_learn_value == pytest.approx(0.7) for layer in deep_layers)
    for actual, wanted in zip(_numpy(averaged), raw, strict=True):
        np.testing.assert_array_equal(actual, wanted)


def test_tracking_needs_an_ema_optimizer():
    model = _dense_model()
    model.compile(keras.optimizers.SGD(0.1), "mse")
    with pytest.raises(ValueError, match="keeps no EMA.*use_ema=True.*Received: optimizer SGD"):
        ema.track_statistics(model)


@pytest.mark.skipif(
    keras.backend.backend() == "torch", reason="torch fit runs one step per execution"
)
def test_several_steps_per_execution_are_refused():
    # Keras calls the callbacks once per execution: steps would be left out of the EMA.
    model = _dense_model()
    model.compile(keras.optimizers.SGD(0.1, use_ema=True), "mse", steps_per_execution=2)
    with pytest.raises(ValueError, match="steps_per_execution=1. Received: steps_per_execution=2"):
        model.fit(*_data(), batch_size=8, verbose=0, callbacks=[ema.track_statistics(model)])
