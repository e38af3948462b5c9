"""Reusable Keras layers, one per file."""

from keras_minimal.layers.adaptive_max_pooling import AdaptiveMaxPooling2D
from keras_minimal.layers.deep_training_activation import DeepTrainingActivation
from keras_minimal.layers.scaled_activation import ScaledActivation, gelu_approximate
from keras_minimal.layers.series_activation import SeriesActivation
from keras_minimal.layers.skip_init_gain import SkipInitGain
from keras_minimal.layers.ws_conv2d import WSConv2D

__all__ = [
    "AdaptiveMaxPooling2D",
    "DeepTrainingActivation",
    "ScaledActivation",
    "SeriesActivation",
    "SkipInitGain",
    "WSConv2D",
    "gelu_approximate",
]
