"""Quantisation-aware training (fake quantisation, straight-through gradients) for
full-integer TFLite export; the layers live in keras_minimal.layers."""

from keras_minimal.layers.activation_quantizer import (
    ActivationQuantizer,
    activation_quantizers,
    is_quantize_aware,
)
from keras_minimal.quantization.quantize_aware import quantize_aware

__all__ = ["ActivationQuantizer", "activation_quantizers", "is_quantize_aware", "quantize_aware"]
