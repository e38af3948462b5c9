"""Losses of the recipes, on logits: soft-target cross-entropy and timm's BinaryCrossEntropy.

The training pipeline's targets already carry label smoothing and MixUp/CutMix (see
augment.Augmentation), so `make_loss` builds losses that do not smooth again.
"""

import keras
from keras import ops

from keras_minimal.validation import check_rate

LOSSES = ("cross_entropy", "binary_cross_entropy")


@keras.saving.register_keras_serializable(package="keras_minimal")
class BinaryCrossEntropy(keras.losses.Loss):
    """timm.loss.BinaryCrossEntropy: one sigmoid BCE per class, averaged over classes and batch.

    Targets are either soft (batch, classes) — used as they are — or class indices, which
    become one-hot with `smoothing` (off = s/C, on = 1 − s + off). With `target_threshold`
    the targets are binarised (> threshold → 1). Predictions are logits unless
    from_logits=False.
    """

    def __init__(
        self,
        smoothing=0.0,
        target_threshold=None,
        from_logits=True,
        reduction="sum_over_batch_size",
        name="binary_cross_entropy",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.smoothing = check_rate("smoothing", smoothing)
        self.target_threshold = target_threshold
        self.from_logits = from_logits

    def call(self, y_true, y_pred):
        num_classes = y_pred.shape[-1]
        if len(y_true.shape) == len(y_pred.shape) - 1 or (
            y_true.shape[-1] == 1 and num_classes != 1
        ):
            labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
            off = self.smoothing / num_classes
            y_true = ops.one_hot(labels, num_classes) * (1.0 - self.smoothing) + off
        y_true = ops.cast(y_true, y_pred.dtype)
        if self.target_threshold is not None:
            y_true = ops.cast(ops.greater(y_true, self.target_threshold), y_pred.dtype)
        per_class = keras.losses.binary_crossentropy(
            ops.expand_dims(y_true, -1), ops.expand_dims(y_pred, -1), from_logits=self.from_logits
        )
        return ops.mean(per_class, axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update(
            smoothing=self.smoothing,
            target_threshold=self.target_threshold,
            from_logits=self.from_logits,
        )
        return config


def make_loss(name, from_logits=True):
    """The recipe's loss for soft (batch, classes) targets."""
    if name == "cross_entropy":
        return keras.losses.CategoricalCrossentropy(from_logits=from_logits)
    if name == "binary_cross_entropy":
        return BinaryCrossEntropy(from_logits=from_logits)
    raise ValueError(f"loss must be one of {LOSSES}. Received: loss={name!r}")
