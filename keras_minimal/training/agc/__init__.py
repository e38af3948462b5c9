"""Adaptive gradient clipping (AGC, Brock et al. 2021) for model.fit on every backend."""

from keras_minimal.training.agc.clipping import (
    ClipRule,
    clip_gradients,
    clip_unitwise,
    unit_axes,
    unitwise_norm,
)
from keras_minimal.training.agc.model import (
    AdaptiveGradientClipping,
    AGCModel,
    AGCSettings,
    clip_rules,
)
from keras_minimal.training.agc.trainer_hook import with_adaptive_gradient_clipping

__all__ = [
    "AGCModel",
    "AGCSettings",
    "AdaptiveGradientClipping",
    "ClipRule",
    "clip_gradients",
    "clip_rules",
    "clip_unitwise",
    "unit_axes",
    "unitwise_norm",
    "with_adaptive_gradient_clipping",
]
