"""EMA of the weights (Keras optimizer `use_ema=True`): evaluate with it, export it.

Keras keeps the averages in the optimizer; its SwapEMAWeights callback swaps them in
with additions and subtractions, which does not give the training weights back
bit-for-bit. Here the values are copied in and the originals copied back, so evaluating
the EMA never perturbs training (exact resume compares weights bit-for-bit). The EMA
averages trainable variables only: λ and BatchNorm statistics are shared with the model,
so the EMA model sees the same λ (timm's ModelEma also averages BN statistics).
"""

import contextlib

import keras
import numpy as np


def _sync(model):
    if hasattr(model, "jax_state_sync"):
        model.jax_state_sync()


def ema_optimizer(optimizer):
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    if not getattr(inner, "use_ema", False):
        return None
    return inner


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
    return [
        keras.ops.convert_to_numpy(by_key[optimizer._var_key(v)]) for v in model.trainable_variables
    ]


@contextlib.contextmanager
def ema_weights(model):
    """Within the block the model holds its EMA weights; the originals come back exactly."""
    values = ema_values(model)
    if values is None:
        raise ValueError(
            "The model's optimizer keeps no EMA: compile with an optimizer made with "
            "use_ema=True (a recipe with ema_decay)."
        )
    originals = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    for variable, value in zip(model.trainable_variables, values, strict=True):
        variable.assign(value)
    try:
        yield model
    finally:
        for variable, value in zip(model.trainable_variables, originals, strict=True):
            variable.assign(value)
        if hasattr(model, "_jax_state_synced"):
            model._jax_state_synced = True


def save_ema_weights(model, path):
    """Write the EMA weights as a .weights.h5 file loadable with model.load_weights."""
    with ema_weights(model):
        model.save_weights(path)


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
