"""Training pieces for model.fit: the papers' schedules and callbacks."""

from keras_minimal.training.deep_training import DeepTrainingScheduler, act_learn_at

__all__ = ["DeepTrainingScheduler", "act_learn_at"]
