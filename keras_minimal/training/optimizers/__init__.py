"""Optimizers of the recipes (timm-semantics LAMB, AdamW, SGD) and the recipe → optimizer."""

from keras_minimal.training.optimizers.factory import (
    learning_rate_schedule,
    make_optimizer,
    no_weight_decay,
)
from keras_minimal.training.optimizers.lamb import Lamb
from keras_minimal.training.optimizers.layer_decay import layer_lr_multipliers
from keras_minimal.training.optimizers.per_variable import SGD, AdamW, per_variable

__all__ = [
    "SGD",
    "AdamW",
    "Lamb",
    "layer_lr_multipliers",
    "learning_rate_schedule",
    "make_optimizer",
    "no_weight_decay",
    "per_variable",
]
