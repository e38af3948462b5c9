"""EMA of the weights and of the BatchNorm statistics: evaluate with it, export it.

The weights' EMA is Keras' (optimizer `use_ema=True`): the optimizer averages the
trainable variables inside the train step. timm's ModelEmaV2/V3 also average the
BatchNorm running statistics, which Keras does not: `track_statistics(model)` adds to the
optimizer one average per statistic (every floating non-trainable model variable: BatchNorm
moving mean and variance, frozen weights) and returns the callback that updates them after
every optimizer step with Keras' rule (the first step copies, then
`m·average + (1 − m)·value`, m = ema_momentum). Being optimizer variables, the averages are
saved and restored with the optimizer's, so a resumed run continues them exactly.
VanillaNet's λ is not averaged (it is a schedule: the EMA model shares it), nor are
seed-generator states (integers).

Keras' SwapEMAWeights callback swaps the averages in with additions and subtractions,
which does not give the training weights back bit-for-bit. Here the values are copied in
and the originals copied back, so evaluating the EMA never perturbs training (exact resume
compares weights bit-for-bit).
"""

import contextlib
import functools

import keras
import numpy as np
from keras import ops

from keras_minimal.layers.deep_training_activation import deep_training_layers

_STATISTICS_ATTRIBUTE = "_keras_minimal_statistic_averages"


def _sync(model):
    if hasattr(model, "jax_state_sync"):
        model.jax_state_sync()


def _mark_synced(model):
    # Keras' JAX fit reloads its state from the variables before the next step.
    if hasattr(model, "_jax_state_synced"):
        model._jax_state_synced = True


def ema_optimizer(optimizer):
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    if not getattr(inner, "use_ema", False):
        return None
    return inner


def _require_ema_optimizer(model):
    optimizer = ema_optimizer(getattr(model, "optimizer", None))
    if optimizer is None:
        raise ValueError(
            "The model's optimizer keeps no EMA: compile with an optimizer made with "
            "use_ema=True (a recipe with ema_decay). Received: optimizer "
            f"{type(getattr(model, 'optimizer', None)).__name__}"
        )
    return optimizer


def averaged_statistics(model):
    """The model variables whose EMA `track_statistics` keeps: the floating non-trainable
    ones (BatchNorm moving statistics, frozen weights) except VanillaNet's λ."""
    schedules = {id(layer.act_learn) for layer in deep_training_layers(model) if layer.built}
    return [
        v
        for v in model.non_trainable_variables
        if keras.backend.is_float_dtype(v.dtype) and id(v) not in schedules
    ]


class _StatisticAverages:
    """The EMA of a model's statistics, held in (untracked) optimizer attributes."""

    def __init__(self, variables, averages, last_step):
        self.variables = variables  # the model's statistic variables
        self.averages = averages  # optimizer variables, aligned with them
        self.last_step = last_step  # optimizer.iterations at the last update
        self.update = None  # made at the first update


def _statistic_averages(optimizer):
    return getattr(optimizer, _STATISTICS_ATTRIBUTE, None) if optimizer is not None else None


def track_statistics(model):
    """Keep the EMA of the model's statistics next to its optimizer's EMA of the weights.

    Call it after compile (with an optimizer made with use_ema=True) and before restoring
    a checkpoint of the optimizer's variables: it builds the optimizer and adds the
    averages to its variables. Pass the returned callback to `fit` (first, so that later
    callbacks see each step's update); `ema_weights(model)` then swaps in both EMAs.
    Calling it again returns a new callback over the same averages.
    """
    optimizer = _require_ema_optimizer(model)
    if _statistic_averages(optimizer) is None:
        strategy = getattr(model, "distribute_strategy", None)  # tf.distribute only
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            if not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)
            _sync(model)
            variables = averaged_statistics(model)
            averages = []
            for variable in variables:
                average = optimizer.add_variable_from_reference(variable, name="average")
                # A copy: JAX would otherwise share (and donate twice) one buffer.
                average.assign(ops.copy(variable.value))
                averages.append(average)
            last_step = optimizer.add_variable(
                shape=(),
                dtype="int",
                aggregation="only_first_replica",
                name="statistics_ema_step",
            )
        tracked = _StatisticAverages(variables, averages, last_step)
        setattr(optimizer, _STATISTICS_ATTRIBUTE, tracked)
    return StatisticsEMA()


def _ema_rule(step, last_step, averages, values, momentum):
    """Keras' EMA update (optimizer use_ema) of `averages` towards `values`, as tensors.

    `step` is the optimizer's iteration count after this step: the first step (1) copies
    the values, later ones give `m·average + (1 − m)·value`; the averages are unchanged when
    the optimizer did not step since `last_step` (a LossScaleOptimizer skipping a step,
    gradient accumulation).
    """
    stepped = ops.not_equal(step, last_step)
    not_first = ops.greater(step, 1)
    factors = {}
    updated = []
    for average, value in zip(averages, values, strict=True):
        dtype = keras.backend.standardize_dtype(average.dtype)
        if dtype not in factors:
            m = ops.multiply(ops.cast(not_first, dtype), momentum)
            factors[dtype] = (m, ops.subtract(1, m))
        m, complement = factors[dtype]
        new = ops.add(ops.multiply(m, average), ops.multiply(complement, value))
        updated.append(ops.where(stepped, new, average))
    return updated


def _update_averages(tracked, rule, step):
    averages = [a.value for a in tracked.averages]
    values = [v.value for v in tracked.variables]
    for average, value in zip(
        tracked.averages, rule(step, tracked.last_step.value, averages, values), strict=True
    ):
        average.assign(value)
    tracked.last_step.assign(ops.copy(step))  # a copy: JAX would share (and donate) a buffer


def _compiled_update(tracked, momentum):
    """`update(step)`: one call per train step (a tf.function / a jitted rule; torch eager)."""
    rule = functools.partial(_ema_rule, momentum=momentum)
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        rule = jax.jit(rule)
    update = functools.partial(_update_averages, tracked, rule)
    if backend == "tensorflow":
        import tensorflow as tf

        update = tf.function(update)
    return update


def update_statistic_averages(model):
    """Update the EMA of the statistics after a train step (what the StatisticsEMA callback
    does after every batch)."""
    optimizer = ema_optimizer(model.optimizer)
    tracked = _statistic_averages(optimizer)
    if tracked is None or not tracked.variables:
        return
    _sync(model)
    if tracked.update is None:
        tracked.update = _compiled_update(tracked, optimizer.ema_momentum)
    tracked.update(ops.convert_to_tensor(optimizer.iterations))
    _mark_synced(model)


def _numpy(variable):
    return keras.ops.convert_to_numpy(variable)


def ema_values(model):
    """Numpy EMA values aligned with model.trainable_variables, or None without EMA."""
    optimizer = ema_optimizer(getattr(model, "optimizer", None))
    if optimizer is None or not hasattr(optimizer, "_model_variables_moving_average"):
        return None
    _sync(model)
    by_key = {
        optimizer._var_key(v): a
        for v, a in zip(
            optimizer._trainable_variables, optimizer._model_variables_moving_average, strict=True
        )
    }
    return [_numpy(by_key[optimizer._var_key(v)]) for v in model.trainable_variables]


def statistic_ema_values(model):
    """[(statistic variable, numpy EMA)] kept by `track_statistics` ([] if not tracked)."""
    tracked = _statistic_averages(ema_optimizer(getattr(model, "optimizer", None)))
    if tracked is None:
        return []
    _sync(model)
    return [(v, _numpy(a)) for v, a in zip(tracked.variables, tracked.averages, strict=True)]


def _ema_assignments(model):
    values = ema_values(model)
    if values is None:
        _require_ema_optimizer(model)
        raise ValueError(
            "The model's optimizer has not been built: nothing is averaged before the first "
            "train step. Received: an unbuilt "
            f"{type(ema_optimizer(model.optimizer)).__name__}"
        )
    return list(zip(model.trainable_variables, values, strict=True)) + statistic_ema_values(model)


def _assign(model, assignments):
    for variable, value in assignments:
        variable.assign(value)
    _mark_synced(model)


def assign_ema_weights(model):
    """Leave the EMA weights and statistics in the model (what Keras' fit does with the
    weights when it returns, use_ema=True)."""
    _assign(model, _ema_assignments(model))


@contextlib.contextmanager
def ema_weights(model):
    """Within the block the model holds its EMA weights (and the EMA of its statistics when
    tracked); the originals come back exactly."""
    assignments = _ema_assignments(model)
    originals = [(variable, _numpy(variable)) for variable, _ in assignments]
    _assign(model, assignments)
    try:
        yield model
    finally:
        _assign(model, originals)


def save_ema_weights(model, path):
    """Write the EMA weights as a .weights.h5 file loadable with model.load_weights."""
    with ema_weights(model):
        model.save_weights(path)


class StatisticsEMA(keras.callbacks.Callback):
    """Updates the EMA of the model's statistics after every train step (made by
    `track_statistics`, which see). When fit returns, the model keeps the EMA statistics
    if the optimizer leaves its EMA weights in it (Keras' default with use_ema=True)."""

    def on_train_begin(self, logs=None):
        steps = getattr(self.model, "steps_per_execution", 1) or 1
        if steps != 1:
            raise ValueError(
                "The EMA of the statistics is updated after every train step, and Keras calls "
                "callbacks once per execution: compile with steps_per_execution=1. "
                f"Received: steps_per_execution={steps}"
            )
        track_statistics(self.model)

    def on_train_batch_end(self, batch, logs=None):
        update_statistic_averages(self.model)

    def on_train_end(self, logs=None):
        optimizer = ema_optimizer(self.model.optimizer)
        if getattr(optimizer, "finalize_with_ema", True):
            _assign(self.model, statistic_ema_values(self.model))


class EMAEvaluation(keras.callbacks.Callback):
    """At the end of each epoch, evaluate the EMA weights on `validation_data` and log
    `val_ema_<metric>` next to Keras' `val_<metric>` (the model's own weights)."""

    def __init__(self, validation_data, every_epochs=1, steps=None):
        super().__init__()
        self.validation_data = validation_data
        self.every_epochs = every_epochs
        self.steps = steps

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_epochs:
            return
        with ema_weights(self.model):
            results = self.model.evaluate(
                self.validation_data, steps=self.steps, verbose=0, return_dict=True
            )
        if logs is not None:
            logs.update({f"val_ema_{k}": float(np.asarray(v)) for k, v in results.items()})
