"""The JAX train step with adaptive gradient clipping.

Keras 3.15's JAXTrainer.train_step (keras/src/backend/jax/trainer.py) with one step
added: the gradients are clipped before `optimizer.stateless_apply`. Everything is
stateless: the clipping reads the parameters from the step's state, and the loss scale
from the optimizer variables of the state.
"""

import jax
from keras import StatelessScope
from keras.src.trainers.data_adapters import data_adapter_utils


def train_step(model, state, data):
    trainable_variables, non_trainable_variables, optimizer_variables, metrics_variables = state
    x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
    grad_fn = jax.value_and_grad(model.compute_loss_and_updates, has_aux=True)
    (_, aux), gradients = grad_fn(
        trainable_variables,
        non_trainable_variables,
        metrics_variables,
        x,
        y,
        sample_weight,
        training=True,
        optimizer_variables=optimizer_variables,
    )
    unscaled_loss, y_pred, non_trainable_variables, metrics_variables = aux

    with StatelessScope(
        state_mapping=list(zip(model.optimizer.variables, optimizer_variables, strict=True))
    ):
        gradients = model.clip_gradients_adaptively(gradients, trainable_variables)
    trainable_variables, optimizer_variables = model.optimizer.stateless_apply(
        optimizer_variables, gradients, trainable_variables
    )

    logs, metrics_variables = model._update_metrics_variables(
        metrics_variables, unscaled_loss, x, y, y_pred, sample_weight
    )
    state = (trainable_variables, non_trainable_variables, optimizer_variables, metrics_variables)
    return logs, state
