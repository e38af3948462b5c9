"""Quantisation-aware training on every backend (tools/run_tests.py runs this file under
TensorFlow, JAX and torch, each in its own process): a training step moves the ranges,
and the Trainer resumes a QAT run exactly."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_minimal.quantization import activation_quantizers, quantize_aware
from tests.training.test_trainer import uninterrupted_and_resumed

pytestmark = pytest.mark.multibackend


def _float_model():
    # Named layers: a checkpoint is matched by variable paths, and Keras numbers the
    # layers it names by how many it has built so far in the process.
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255.0, name="scale")(inputs)
    x = keras.layers.Conv2D(8, 3, 2, "same", activation="relu", name="conv")(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = keras.layers.Activation("hard_silu", name="act")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(x), name="tiny")


def _qat_model():
    keras.utils.set_random_seed(0)
    return quantize_aware(_float_model())


def _state(model):
    return [ops.convert_to_numpy(v) for v in model.variables]


def test_one_training_step_trains_the_weights_and_moves_the_ranges():
    model = _qat_model()
    model.compile(keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(True))
    x = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype("float32")
    y = np.arange(8) % 3
    quantizers = activation_quantizers(model)
    ranges = [
        (ops.convert_to_numpy(q.range_min), ops.convert_to_numpy(q.range_max)) for q in quantizers
    ]
    weights = [ops.convert_to_numpy(w) for w in model.trainable_weights]
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    for quantizer, (low, high) in zip(quantizers, ranges, strict=True):
        assert int(ops.convert_to_numpy(quantizer.steps)) == 1
        moved = (
            ops.convert_to_numpy(quantizer.range_min),
            ops.convert_to_numpy(quantizer.range_max),
        )
        assert moved != (low, high), quantizer.name
    # Straight-through gradients reach every kernel through the rounding.
    changed = [
        not np.array_equal(ops.convert_to_numpy(w), before)
        for w, before in zip(model.trainable_weights, weights, strict=True)
    ]
    assert all(changed)


def test_a_killed_qat_run_resumes_exactly_through_the_trainer(tmp_path):
    """Killed after step 5 (checkpoints every 2 steps), resumed: every variable — weights,
    optimizer-free model state such as the ranges and their step counts — equals an
    uninterrupted run's bit for bit."""
    options = dict(model=_qat_model, checkpoint_every_steps=2)
    reference, resumed = uninterrupted_and_resumed(tmp_path, **options)
    steps = [int(ops.convert_to_numpy(q.steps)) for q in activation_quantizers(resumed.model)]
    assert steps and all(s == resumed.steps_per_epoch * resumed.epochs for s in steps)
    for actual, expected in zip(_state(resumed.model), _state(reference.model), strict=True):
        np.testing.assert_array_equal(actual, expected)
