"""LAMB with timm's semantics (timm.optim.Lamb), which VanillaNet's recipe trains with.

Differences from keras.optimizers.Lamb: the weight decay is added to the Adam update
before the trust ratio (not decoupled), and the trust ratio ‖w‖/‖update‖ is applied only
to variables that are decayed (timm: `weight_decay != 0 or always_adapt`); excluded
variables (norms, biases) take the plain bias-corrected Adam step. timm clips the global
gradient norm at 1.0 first: pass global_clipnorm=1.0 (make_optimizer does).
"""

import keras
from keras import ops

from keras_minimal.training.optimizers.per_variable import per_variable


class _LambCore(keras.optimizers.Optimizer):
    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-6,
        name="lamb",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._momentums, self._velocities = self.add_optimizer_variables(
            variables, ["momentum", "velocity"]
        )

    def lamb_direction(self, gradient, variable):
        """The bias-corrected Adam direction m̂/(√v̂ + ε), updating the slots."""
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        gradient = ops.cast(gradient, variable.dtype)
        step = ops.cast(self.iterations + 1, variable.dtype)
        self.assign(m, m * self.beta_1 + gradient * (1.0 - self.beta_1))
        self.assign(v, v * self.beta_2 + ops.square(gradient) * (1.0 - self.beta_2))
        m_hat = m / (1.0 - ops.power(ops.cast(self.beta_1, variable.dtype), step))
        v_hat = v / (1.0 - ops.power(ops.cast(self.beta_2, variable.dtype), step))
        return m_hat / (ops.sqrt(v_hat) + self.epsilon)

    def get_config(self):
        config = super().get_config()
        config.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)
        return config


@keras.saving.register_keras_serializable(package="keras_minimal")
class Lamb(per_variable(_LambCore)):
    """timm Lamb with per-variable lr multipliers (layer decay) and decay exclusions."""

    def update_step(self, gradient, variable, learning_rate):
        scale = self._lr_scale_by_key.get(self._var_key(variable), 1.0)
        lr = ops.cast(learning_rate, variable.dtype) * scale
        update = self.lamb_direction(gradient, variable)
        if self.decay_rate and self._use_weight_decay(variable):
            update = update + self.decay_rate * variable
            w_norm = ops.sqrt(ops.sum(ops.square(variable)))
            u_norm = ops.sqrt(ops.sum(ops.square(update)))
            trust = ops.where((w_norm > 0) & (u_norm > 0), w_norm / u_norm, 1.0)
            update = update * trust
        self.assign_sub(variable, lr * update)
