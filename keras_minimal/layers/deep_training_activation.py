"""VanillaNet's deep-training activation: a leaky ReLU whose slope λ anneals 0 → 1."""

import keras
from keras import ops


def check_act_learn(value):
    """Return `value` as a float after checking that it is a valid λ in [0, 1]."""
    try:
        if isinstance(value, (bool, str, bytes)):
            raise TypeError
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"act_learn (λ) must be a number in [0, 1]. Received: act_learn={value!r}"
        ) from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(
            "act_learn (λ) must lie in [0, 1]: 0 is ReLU, 1 is the identity that "
            f"deploy fusion needs. Received: act_learn={value}"
        )
    return value


@keras.saving.register_keras_serializable(package="keras_minimal")
class DeepTrainingActivation(keras.layers.Layer):
    """A'(x) = (1 − λ)·ReLU(x) + λ·x, i.e. leaky_relu(x, negative_slope=λ).

    λ (the official code's `act_learn`) lives in a non-trainable variable so that
    assigning it between epochs takes effect inside compiled (XLA / jit) train
    steps, and so that it is saved with the weights.

    Args:
        act_learn: initial λ in [0, 1]. The default 1.0 is the end state of deep
            training (what a trained checkpoint is evaluated with).
    """

    def __init__(self, act_learn=1.0, **kwargs):
        super().__init__(**kwargs)
        self.initial_act_learn = check_act_learn(act_learn)

    def build(self, input_shape):
        self.act_learn = self.add_weight(
            name="act_learn",
            shape=(),
            initializer=keras.initializers.Constant(self.initial_act_learn),
            trainable=False,
            dtype="float32",
            autocast=False,
        )

    @property
    def act_learn_value(self):
        """The current λ as a Python float (the initial value before the layer is built)."""
        if not self.built:
            return self.initial_act_learn
        return float(ops.convert_to_numpy(self.act_learn))

    def set_act_learn(self, value):
        value = check_act_learn(value)
        if self.built:
            self.act_learn.assign(value)
        else:
            self.initial_act_learn = value

    def call(self, inputs):
        slope = ops.cast(self.act_learn, inputs.dtype)
        return ops.relu(inputs) + slope * ops.minimum(inputs, 0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["act_learn"] = self.act_learn_value
        return config


def deep_training_layers(model):
    """Every DeepTrainingActivation inside `model`, nested models included."""
    found = []
    for layer in getattr(model, "layers", ()):
        if isinstance(layer, DeepTrainingActivation):
            found.append(layer)
        else:
            found.extend(deep_training_layers(layer))
    return found
