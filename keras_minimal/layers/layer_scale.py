"""Per-channel learnable scale (CaiT / ConvNeXt "layer scale", official name `gamma`)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_minimal")
class LayerScale(keras.layers.Layer):
    """y = γ ⊙ x with one learnable γ per channel (last axis), initialised to `init_value`.

    A small `init_value` (ConvNeXt: 1e-6) makes every residual block start close to
    the identity, which is what lets deep ConvNeXts train stably.

    Args:
        init_value: the initial value of every γ.
    """

    def __init__(self, init_value=1e-6, **kwargs):
        super().__init__(**kwargs)
        try:
            self.init_value = float(init_value)
        except (TypeError, ValueError):
            raise TypeError(
                f"init_value must be a number. Received: init_value={init_value!r}"
            ) from None

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                "LayerScale needs a known channel (last) dimension. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self.gamma = self.add_weight(
            name="gamma",
            shape=(channels,),
            initializer=keras.initializers.Constant(self.init_value),
            trainable=True,
        )

    def call(self, inputs):
        return inputs * ops.cast(self.gamma, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["init_value"] = self.init_value
        return config
