"""Initialisers shared by the reference implementations."""

import math

import keras
from keras import ops

# The float32 uniform draw is kept strictly inside (−1, 1): erfinv(±1) is infinite.
_OPEN_UNIT = 1.0 - 2.0**-24


@keras.saving.register_keras_serializable(package="keras_minimal")
class ReferenceTruncatedNormal(keras.initializers.RandomNormal):
    """N(mean, stddev²) truncated to the absolute interval [a, b]: PyTorch/timm `trunc_normal_`.

    The bounds are absolute values, not multiples of stddev: with the default ±2 and
    stddev 0.02 they lie 100σ out, so the draw is a plain N(0, 0.02²) (std 0.02).
    Keras' TruncatedNormal cuts at ±2σ instead, which leaves a std of 0.88·stddev.
    Sampled as timm does, by the inverse CDF of a uniform draw (float32 precision caps
    the tails at about 5.4σ, which no finite sample of the normal notices).
    """

    def __init__(self, mean=0.0, stddev=0.02, a=-2.0, b=2.0, seed=None):
        if not stddev > 0 or not a < b:
            raise ValueError(f"Needs stddev > 0 and a < b. Received: stddev={stddev}, a={a}, b={b}")
        super().__init__(mean=mean, stddev=stddev, seed=seed)
        self.a, self.b = float(a), float(b)

    def __call__(self, shape, dtype=None):
        def cdf(x):
            return 0.5 * (1.0 + math.erf((x - self.mean) / (self.stddev * math.sqrt(2.0))))

        low = max(2.0 * cdf(self.a) - 1.0, -_OPEN_UNIT)
        high = min(2.0 * cdf(self.b) - 1.0, _OPEN_UNIT)
        u = keras.random.uniform(shape, minval=low, maxval=high, seed=self.seed, dtype="float32")
        u = ops.clip(u, -_OPEN_UNIT, _OPEN_UNIT)
        x = ops.erfinv(u) * (self.stddev * math.sqrt(2.0)) + self.mean
        return ops.cast(ops.clip(x, self.a, self.b), dtype or keras.config.floatx())

    def get_config(self):
        config = super().get_config()
        config.update(a=self.a, b=self.b)
        return config


def reference_trunc_normal(stddev=0.02):
    """timm's `trunc_normal_(std=stddev)` (bounds ±2 absolute), the init of every family
    in this package that uses it (VanillaNet, ConvNeXt)."""
    return ReferenceTruncatedNormal(stddev=stddev)
