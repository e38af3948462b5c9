"""Reusable Keras layers, one per file."""

from keras_minimal.layers.adaptive_max_pooling import AdaptiveMaxPooling2D
from keras_minimal.layers.deep_training_activation import DeepTrainingActivation
from keras_minimal.layers.series_activation import SeriesActivation

__all__ = ["AdaptiveMaxPooling2D", "DeepTrainingActivation", "SeriesActivation"]
