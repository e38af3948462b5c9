"""Re-parameterisation maths on numpy arrays in Keras layouts.

Kernels are Keras-shaped: Conv2D (kh, kw, in, out), Dense (in, out),
DepthwiseConv2D (kh, kw, channels, 1). Every function is exact in real
arithmetic; in float32 the results match the unfused graph to rounding.
"""

from dataclasses import dataclass

import numpy as np
from keras import ops


@dataclass(frozen=True)
class BatchNormStats:
    """An inference-mode BatchNorm: y = gamma · (x − mean) / sqrt(variance + epsilon) + beta."""

    gamma: np.ndarray
    beta: np.ndarray
    mean: np.ndarray
    variance: np.ndarray
    epsilon: float

    @classmethod
    def from_layer(cls, layer):
        """From a keras.layers.BatchNormalization (center and scale on)."""
        return cls(
            gamma=ops.convert_to_numpy(layer.gamma),
            beta=ops.convert_to_numpy(layer.beta),
            mean=ops.convert_to_numpy(layer.moving_mean),
            variance=ops.convert_to_numpy(layer.moving_variance),
            epsilon=float(layer.epsilon),
        )

    def scale(self):
        return self.gamma / np.sqrt(self.variance + self.epsilon)


def fold_batch_norm(kernel, bias, stats, channel_axis=-1):
    """A conv/dense (kernel, bias or None) followed by BatchNorm → one layer with a bias.

    W' = W · γ/σ along the output-channel axis; b' = β + (b − μ) · γ/σ.
    channel_axis: the kernel's output-channel axis (-1 for Conv2D/Dense, 2 for
    DepthwiseConv2D kernels of multiplier 1).
    """
    scale = stats.scale()
    shape = [1] * kernel.ndim
    shape[channel_axis] = -1
    bias = np.zeros_like(stats.mean) if bias is None else bias
    return kernel * scale.reshape(shape), stats.beta + (bias - stats.mean) * scale


def merge_pointwise_after(kernel1, bias1, kernel2, bias2):
    """A conv (any kh×kw) or dense, then a 1×1 conv or dense with nothing between → one layer.

    With y = x∗W1 + b1 and z = y·W2 + b2: z = x∗(W1·W2) + (b1·W2 + b2). Exact also when
    the first conv pads its input, since the padding happens before both.
    """
    pointwise = kernel2.reshape(kernel2.shape[-2], kernel2.shape[-1])
    return kernel1 @ pointwise, bias1 @ pointwise + bias2


def standardize_weight(kernel, gain, epsilon, form="timm"):
    """A WSConv2D's effective Conv2D kernel: scaled weight standardisation, per output channel.

    kernel (kh, kw, in/groups, out), gain (out,); N = kh·kw·in/groups, μ and σ² the
    (biased) mean and variance over those N weights of each output channel:
    "timm": g·(W − μ) / (sqrt(σ² + ε)·sqrt(N)); "deepmind": g·(W − μ)·rsqrt(max(σ²·N, ε)).
    Computed in float64 and returned in the kernel's dtype.
    """
    weights = np.asarray(kernel, dtype=np.float64)
    fan_in = np.prod(weights.shape[:-1])
    mean = weights.mean(axis=(0, 1, 2), keepdims=True)
    variance = weights.var(axis=(0, 1, 2), keepdims=True)
    if form == "timm":
        scale = gain / (np.sqrt(variance + epsilon) * np.sqrt(fan_in))
    elif form == "deepmind":
        scale = gain / np.sqrt(np.maximum(variance * fan_in, epsilon))
    else:
        raise ValueError(f"form must be 'timm' or 'deepmind'. Received: form={form!r}")
    return ((weights - mean) * scale).astype(np.asarray(kernel).dtype)
