"""Loading weights: reference checkpoints (official code / timm) and weights="imagenet"."""

from keras_minimal.weights.converted_weights import convert_checkpoint
from keras_minimal.weights.imagenet import WeightsDownloadError
from keras_minimal.weights.keras_applications import load_keras_applications
from keras_minimal.weights.readers import read_checkpoint
from keras_minimal.weights.reference import load_reference

__all__ = [
    "WeightsDownloadError",
    "convert_checkpoint",
    "load_keras_applications",
    "load_reference",
    "read_checkpoint",
]
