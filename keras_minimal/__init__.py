"""keras_minimal: VanillaNet, NFNet, ConvNeXt and PP-LCNet for Keras 3, exact to the references."""

from keras_minimal import applications, deploy, layers, quantization, training, weights
from keras_minimal.applications import create_model, list_models

__version__ = "0.1.0"

__all__ = [
    "applications",
    "create_model",
    "deploy",
    "layers",
    "list_models",
    "quantization",
    "training",
    "weights",
]
