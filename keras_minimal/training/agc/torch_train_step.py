"""The PyTorch train step with adaptive gradient clipping.

Keras 3.15's TorchTrainer.train_step (keras/src/backend/torch/trainer.py) with one step
added: the gradients left by `loss.backward()` are clipped before `optimizer.apply`.
"""

import warnings

import torch
from keras.src import tree
from keras.src.trainers.data_adapters import data_adapter_utils


def train_step(model, data):
    x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
    y_pred = model(x, training=True) if model._call_has_training_arg else model(x)
    model.zero_grad()
    loss = model._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
    model._loss_tracker.update_state(
        loss, sample_weight=next(i for i in tree.flatten(x) if i is not None).shape[0]
    )
    if model.optimizer is not None:
        loss = model.optimizer.scale_loss(loss)

    trainable_weights = model.trainable_weights[:]
    if not trainable_weights:  # as Keras' own step: nothing to clip or apply
        warnings.warn("The model does not have any trainable weights.", stacklevel=2)
        return model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
    loss.backward()
    gradients = [v.value.grad for v in trainable_weights]
    with torch.no_grad():
        gradients = model.clip_gradients_adaptively(gradients, [v.value for v in trainable_weights])
        model.optimizer.apply(gradients, trainable_weights)
    return model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
