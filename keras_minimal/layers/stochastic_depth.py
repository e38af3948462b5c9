"""Stochastic depth (drop path) on a residual branch, one draw per sample."""

import keras
from keras import ops

from keras_minimal.validation import check_rate


@keras.saving.register_keras_serializable(package="keras_minimal")
class StochasticDepth(keras.layers.Layer):
    """Zero the whole residual branch of a random subset of the samples while training.

    Each sample's branch is kept with probability 1 − rate and then divided by
    1 − rate (timm's `drop_path` with scale_by_keep=True), so that its expectation
    is unchanged; at inference the layer is the identity. Apply it to the branch
    only, then add the shortcut: `x + StochasticDepth(rate)(branch)`.

    The mask comes from a `keras.random.SeedGenerator` that the layer owns, so
    its state advances inside compiled train steps (TF XLA, `jax.jit`) instead of
    being baked in as a constant.

    Args:
        rate: drop probability in [0, 1).
        seed: optional int seed of the generator.
    """

    def __init__(self, rate=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_rate("rate", rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed) if rate > 0 else None

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        keep = 1.0 - self.rate
        shape = (ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        draw = keras.random.uniform(shape, seed=self.seed_generator, dtype=self.compute_dtype)
        mask = ops.cast(draw < keep, self.compute_dtype)
        return inputs * (mask / keep)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate, seed=self.seed)
        return config
