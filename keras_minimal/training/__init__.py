"""Training pieces for model.fit: the papers' schedules and callbacks."""

from keras_minimal.training.agc import AdaptiveGradientClipping, AGCModel
from keras_minimal.training.deep_training import DeepTrainingScheduler, act_learn_at

__all__ = ["AGCModel", "AdaptiveGradientClipping", "DeepTrainingScheduler", "act_learn_at"]
