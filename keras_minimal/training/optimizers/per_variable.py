"""Per-variable learning-rate multipliers and weight decay for Keras optimizers.

Keras optimizers have one learning rate and a decoupled weight decay. The recipes need:
- layer-wise lr decay (a multiplier per variable, e.g. VanillaNet-6/7),
- AdamW's decoupled decay scaled by that variable's lr (torch AdamW with param groups),
- SGD's L2 decay added to the gradient (torch SGD / Paddle L2Decay),
- no decay on norms, biases and gains (registered with Keras'
  `optimizer.exclude_from_weight_decay`, queried per variable).
`per_variable(keras.optimizers.Adam)` returns a subclass that does this inside
`update_step`, which every backend (and tf.distribute) calls once per variable; the base
class' own weight decay is switched off so that nothing is applied twice.
"""

import keras

DECAY_MODES = ("decoupled", "l2")


def per_variable(base):
    class PerVariable(base):
        def __init__(
            self,
            *args,
            weight_decay=0.0,
            weight_decay_mode="decoupled",
            lr_multipliers=None,
            **kwargs,
        ):
            if weight_decay_mode not in DECAY_MODES:
                raise ValueError(
                    f"weight_decay_mode must be one of {DECAY_MODES}. Received: "
                    f"{weight_decay_mode!r}"
                )
            super().__init__(*args, weight_decay=None, **kwargs)
            self.decay_rate = float(weight_decay or 0.0)
            self.weight_decay_mode = weight_decay_mode
            self.lr_multipliers = {str(k): float(v) for k, v in (lr_multipliers or {}).items()}
            self._lr_scale_by_key = {}

        def build(self, variables):
            unknown = set(self.lr_multipliers) - {v.path for v in variables}
            if unknown:
                raise ValueError(
                    "lr_multipliers name variables the optimizer does not train: "
                    f"{sorted(unknown)[:10]}. Received {len(unknown)} unknown path(s)."
                )
            self._lr_scale_by_key = {
                self._var_key(v): self.lr_multipliers.get(v.path, 1.0) for v in variables
            }
            super().build(variables)

        def finalize_variable_values(self, var_list):
            # Keras overwrites the weights with their EMA when fit() returns; a trainer
            # that calls fit() more than once (resume mid-epoch) switches that off.
            if getattr(self, "finalize_with_ema", True):
                super().finalize_variable_values(var_list)

        def update_step(self, gradient, variable, learning_rate):
            scale = self._lr_scale_by_key.get(self._var_key(variable), 1.0)
            if scale != 1.0:
                learning_rate = learning_rate * scale
            if self.decay_rate and self._use_weight_decay(variable):
                decay = keras.ops.cast(self.decay_rate, variable.dtype)
                if self.weight_decay_mode == "l2":
                    gradient = gradient + decay * keras.ops.cast(variable, gradient.dtype)
                else:
                    lr = keras.ops.cast(learning_rate, variable.dtype)
                    self.assign(variable, variable - variable * decay * lr)
            super().update_step(gradient, variable, learning_rate)

        def get_config(self):
            config = super().get_config()
            config.update(
                weight_decay=self.decay_rate,
                weight_decay_mode=self.weight_decay_mode,
                lr_multipliers=self.lr_multipliers,
            )
            return config

    PerVariable.__name__ = f"PerVariable{base.__name__}"
    PerVariable.__qualname__ = PerVariable.__name__
    return PerVariable


AdamW = keras.saving.register_keras_serializable(package="keras_minimal")(
    per_variable(keras.optimizers.Adam)
)
SGD = keras.saving.register_keras_serializable(package="keras_minimal")(
    per_variable(keras.optimizers.SGD)
)
