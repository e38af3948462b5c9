"""Training: pieces for model.fit and the Trainer that assembles them.

Submodules: data (tf.data pipelines), augment (RandAugment adapter, MixUp/CutMix, random
erasing), recipes (the papers' recipes as data), optimizers, schedules, losses, ema,
checkpointing, distribute (per backend), train_steps (custom train-step extension point),
trainer, evaluation. Importing this package stays light: import the submodules you use.
"""

from keras_minimal.training.agc import AdaptiveGradientClipping, AGCModel
from keras_minimal.training.deep_training import DeepTrainingScheduler, act_learn_at

__all__ = ["AGCModel", "AdaptiveGradientClipping", "DeepTrainingScheduler", "act_learn_at"]
