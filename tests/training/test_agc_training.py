"""AGC inside model.fit on the current backend: the backend's train step, end to end."""

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy

from keras_minimal.training import AGCModel
from tests.training.agc_models import every_parameter_kind, kind_of, regression_data, unit_norms

pytestmark = pytest.mark.multibackend

EPSILON = 1e-3
# On torch jit_compile=True is torch.compile (about a minute on this CPU): run once, since
# the clipping step must survive compilation on every backend.
JIT_CHOICES = [False, True]


def _weights(model):
    return {v.path: to_numpy(v).astype(np.float64) for v in model.trainable_weights}


def _assert_every_unit_moved_by_its_bound(before, after, clipping, excluded=("predictions",)):
    """With plain SGD(1.0) and λ tiny enough that every unit is clipped, each unit moves by
    exactly λ·max(‖W_i‖, ε); excluded variables take their full gradient step."""
    for path, old in before.items():
        kind = kind_of(path)
        step = unit_norms(after[path] - old, kind)
        bound = clipping * np.maximum(unit_norms(old, kind), EPSILON)
        if path.split("/")[0] in excluded:
            assert np.all(step > 10 * bound), path
        else:
            np.testing.assert_allclose(step, bound, rtol=2e-3, err_msg=path)


@pytest.mark.parametrize("jit_compile", JIT_CHOICES)
def test_fit_clips_every_unit_except_the_classifier(jit_compile):
    model = every_parameter_kind()
    trainer = AGCModel(model, clipping=1e-4)
    trainer.compile(keras.optimizers.SGD(1.0), "mse", jit_compile=jit_compile)
    x, y = regression_data()
    before = _weights(model)
    history = trainer.fit(x, y, batch_size=len(x), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    _assert_every_unit_moved_by_its_bound(before, _weights(model), 1e-4)


@pytest.mark.parametrize("loss_scale", [2.0**15, 2.0**8])
def test_mixed_float16_clips_the_gradients_unscaled_by_the_current_loss_scale(loss_scale):
    """2**15 is Keras' initial dynamic scale; 2**8 is where seven overflows leave it, and
    the gradients must then be unscaled by the scale in force, not the initial one."""
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        model = every_parameter_kind()
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    trainer = AGCModel(model, clipping=1e-4)
    trainer.compile(keras.optimizers.SGD(1.0), "mse")
    optimizer = trainer.optimizer
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    optimizer.build(trainer.trainable_variables)
    optimizer.dynamic_scale.assign(loss_scale)
    x, y = regression_data(16)
    before = _weights(model)
    trainer.fit(x, y, batch_size=len(x), epochs=1, verbose=0)
    assert float(to_numpy(optimizer.dynamic_scale)) == loss_scale
    assert int(to_numpy(optimizer.iterations)) == 1  # the step was taken, not skipped
    # Clipping the scaled gradients (or unscaling by another scale) would have moved each
    # unit loss_scale (or the ratio of the scales) times too little or too much.
    _assert_every_unit_moved_by_its_bound(before, _weights(model), 1e-4)


def test_too_large_learning_rate_diverges_without_agc_and_stays_finite_with_it():
    def train(clipping):
        keras.utils.set_random_seed(0)
        model = every_parameter_kind(activation=None)
        trainer = model if clipping is None else AGCModel(model, clipping=clipping)
        trainer.compile(keras.optimizers.SGD(3.0), "mse")
        x, y = regression_data()
        history = trainer.fit(x, y, batch_size=len(x), epochs=12, verbose=0)
        return np.array(history.history["loss"]), _weights(model)

    plain_loss, plain_weights = train(None)
    agc_loss, agc_weights = train(0.01)
    assert plain_loss[0] == pytest.approx(agc_loss[0], rel=1e-5)  # same start
    assert not np.all(np.isfinite(plain_loss))
    assert not all(np.all(np.isfinite(w)) for w in plain_weights.values())
    assert np.all(np.isfinite(agc_loss)) and agc_loss[-1] < agc_loss[0]
    assert all(np.all(np.isfinite(w)) for w in agc_weights.values())


def test_without_clipping_it_is_keras_own_train_step():
    """λ so large that nothing is clipped: the same weights and logs as a plain fit."""

    def train(clipping):
        keras.utils.set_random_seed(0)
        model = every_parameter_kind()
        trainer = model if clipping is None else AGCModel(model, clipping=clipping)
        trainer.compile(keras.optimizers.SGD(0.1, momentum=0.9), "mse", metrics=["mae"])
        x, y = regression_data()
        history = trainer.fit(x, y, batch_size=16, epochs=2, verbose=0)
        return history.history, _weights(model)

    plain_logs, plain_weights = train(None)
    agc_logs, agc_weights = train(1e9)
    for key in ("loss", "mae"):
        np.testing.assert_allclose(agc_logs[key], plain_logs[key], rtol=1e-5)
    for path, weights in plain_weights.items():
        np.testing.assert_allclose(agc_weights[path], weights, rtol=1e-5, atol=1e-7)


@pytest.mark.filterwarnings("ignore:The model does not have any trainable weights")
def test_a_model_without_trainable_weights_fits_as_with_keras_own_step():
    """A fully frozen model (a frozen feature extractor being evaluated in fit): Keras warns
    and leaves the weights alone; the AGC step used to crash (TF: empty apply_gradients,
    torch: backward of a loss that needs no gradient)."""
    model = every_parameter_kind()
    model.trainable = False
    trainer = AGCModel(model, clipping=0.01)
    trainer.compile(keras.optimizers.SGD(0.1), "mse")
    x, y = regression_data()
    before = {v.path: to_numpy(v) for v in model.weights}
    history = trainer.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    for variable in model.weights:
        np.testing.assert_array_equal(to_numpy(variable), before[variable.path])
