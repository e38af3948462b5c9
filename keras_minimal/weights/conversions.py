"""How a reference (PyTorch-layout) tensor maps onto a Keras variable, and back for shapes."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Conversion:
    name: str
    to_keras: Callable[[np.ndarray], np.ndarray]
    reference_shape: Callable[[tuple], tuple]  # Keras variable shape → expected reference shape


IDENTITY = Conversion("identity", lambda a: a, tuple)

# Conv2d weight (out, in, kh, kw) → Conv2D kernel (kh, kw, in, out).
CONV2D = Conversion(
    "conv2d",
    lambda a: np.transpose(a, (2, 3, 1, 0)),
    lambda s: (s[3], s[2], s[0], s[1]),
)

# Depthwise Conv2d weight (C, 1, kh, kw) → DepthwiseConv2D kernel (kh, kw, C, 1).
DEPTHWISE = Conversion(
    "depthwise",
    lambda a: np.transpose(a, (2, 3, 0, 1)),
    lambda s: (s[2], s[3], s[0], s[1]),
)

# 1×1 Conv2d weight (out, in, 1, 1) → Dense kernel (in, out).
DENSE_FROM_CONV1X1 = Conversion(
    "dense_from_conv1x1",
    lambda a: a.reshape(a.shape[0], a.shape[1]).T,
    lambda s: (s[1], s[0], 1, 1),
)

# Linear weight (out, in) → Dense kernel (in, out).
DENSE = Conversion("dense", lambda a: a.T, lambda s: (s[1], s[0]))
