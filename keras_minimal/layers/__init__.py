"""Reusable Keras layers, one per file."""

from keras_minimal.layers.activation_quantizer import ActivationQuantizer
from keras_minimal.layers.adaptive_max_pooling import AdaptiveMaxPooling2D
from keras_minimal.layers.banded_depthwise_conv import BandedDepthwiseConv2D
from keras_minimal.layers.deep_training_activation import DeepTrainingActivation
from keras_minimal.layers.exact_gelu import ExactGELU, exact_gelu
from keras_minimal.layers.grouped_conv2d import GroupedConv2D
from keras_minimal.layers.layer_scale import LayerScale
from keras_minimal.layers.quantized_activation import QuantizedActivation
from keras_minimal.layers.quantized_conv2d import QuantizedConv2D
from keras_minimal.layers.quantized_dense import QuantizedDense
from keras_minimal.layers.quantized_depthwise_conv2d import QuantizedDepthwiseConv2D
from keras_minimal.layers.quantized_layer_normalization import QuantizedLayerNormalization
from keras_minimal.layers.quantized_scale import QuantizedScale
from keras_minimal.layers.scaled_activation import ScaledActivation, gelu_approximate
from keras_minimal.layers.series_activation import SeriesActivation
from keras_minimal.layers.skip_init_gain import SkipInitGain
from keras_minimal.layers.stochastic_depth import StochasticDepth
from keras_minimal.layers.ws_conv2d import WSConv2D

__all__ = [
    "ActivationQuantizer",
    "AdaptiveMaxPooling2D",
    "BandedDepthwiseConv2D",
    "DeepTrainingActivation",
    "ExactGELU",
    "GroupedConv2D",
    "LayerScale",
    "QuantizedActivation",
    "QuantizedConv2D",
    "QuantizedDense",
    "QuantizedDepthwiseConv2D",
    "QuantizedLayerNormalization",
    "QuantizedScale",
    "ScaledActivation",
    "SeriesActivation",
    "SkipInitGain",
    "StochasticDepth",
    "WSConv2D",
    "exact_gelu",
    "gelu_approximate",
]
