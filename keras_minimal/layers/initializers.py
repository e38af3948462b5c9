"""Initialisers shared by the reference implementations."""

import keras


def reference_trunc_normal(stddev=0.02):
    """timm's `trunc_normal_(std=0.02)`, the init of every family in this package.

    timm truncates at ±2 in absolute value, i.e. at ±100σ for σ = 0.02, which is a
    plain normal in practice; Keras' TruncatedNormal truncates at ±2σ. The two
    differ only in the tails, which does not matter for training from scratch.
    """
    return keras.initializers.TruncatedNormal(stddev=stddev)
