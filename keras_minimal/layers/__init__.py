"""Reusable Keras layers, one per file."""

from keras_minimal.layers.adaptive_max_pooling import AdaptiveMaxPooling2D
from keras_minimal.layers.banded_depthwise_conv import BandedDepthwiseConv2D
from keras_minimal.layers.deep_training_activation import DeepTrainingActivation
from keras_minimal.layers.exact_gelu import ExactGELU, exact_gelu
from keras_minimal.layers.layer_scale import LayerScale
from keras_minimal.layers.series_activation import SeriesActivation
from keras_minimal.layers.stochastic_depth import StochasticDepth

__all__ = [
    "AdaptiveMaxPooling2D",
    "BandedDepthwiseConv2D",
    "DeepTrainingActivation",
    "ExactGELU",
    "LayerScale",
    "SeriesActivation",
    "StochasticDepth",
    "exact_gelu",
]
