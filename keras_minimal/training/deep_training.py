"""VanillaNet's deep-training schedule for λ (act_learn), as a Keras callback."""

import math

import keras

from keras_minimal.layers.deep_training_activation import deep_training_layers
from keras_minimal.validation import is_integer

MODES = ("linear", "cosine")


def act_learn_at(epoch, decay_epochs, mode="linear"):
    """λ at the start of `epoch` (0-based), as the official main.py sets it.

    linear: epoch / decay_epochs; cosine: 0.5·(1 − cos(π·epoch / decay_epochs));
    from decay_epochs on, λ stays 1.
    """
    progress = min(epoch, decay_epochs) / decay_epochs
    if mode == "linear":
        return progress
    return 0.5 * (1.0 - math.cos(math.pi * progress))


class DeepTrainingScheduler(keras.callbacks.Callback):
    """Anneal λ from 0 to 1 over the first `decay_epochs` epochs, once per epoch.

    λ lives in non-trainable variables of the model's DeepTrainingActivation
    layers, so the new value takes effect inside compiled (XLA / jit) steps. The
    EMA (keras_minimal.training.ema) never averages λ, so the EMA model sees the
    same λ.

    Args:
        decay_epochs: epochs until λ reaches 1 (the official recipe: 100 of 300).
        mode: "linear" (official default) or "cosine".
        verbose: print λ at the start of every epoch.
    """

    def __init__(self, decay_epochs, mode="linear", verbose=0):
        super().__init__()
        if not is_integer(decay_epochs) or decay_epochs < 1:
            raise ValueError(
                f"decay_epochs must be a positive integer. Received: decay_epochs={decay_epochs!r}"
            )
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}. Received: mode={mode!r}")
        self.decay_epochs = int(decay_epochs)
        self.mode = mode
        self.verbose = verbose
        self.act_learn = None

    def on_train_begin(self, logs=None):
        if not deep_training_layers(self.model):
            raise ValueError(
                "DeepTrainingScheduler found no DeepTrainingActivation layer in the model; use "
                "it with the training graph of a VanillaNet (deploy=False)."
            )

    def on_epoch_begin(self, epoch, logs=None):
        self.act_learn = act_learn_at(epoch, self.decay_epochs, self.mode)
        for layer in deep_training_layers(self.model):
            layer.set_act_learn(self.act_learn)
        if self.verbose:
            print(f"Epoch {epoch + 1}: deep training act_learn (λ) = {self.act_learn:.4f}")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["act_learn"] = self.act_learn
