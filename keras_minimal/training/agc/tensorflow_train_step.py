"""The TensorFlow train step with adaptive gradient clipping.

Keras 3.15's TensorFlowTrainer.train_step (keras/src/backend/tensorflow/trainer.py) with
one step added: the gradients of the (possibly loss-scaled) loss are clipped before
`optimizer.apply_gradients`.

Under a tf.distribute strategy with R replicas each replica holds 1/R of the global-batch
gradient and the optimizer sums them. Clipping those parts would let the update reach R·λ
of the bound, so the step sums them first, clips the global gradient (as DeepMind does
after its pmean) and hands each replica 1/R of the clipped gradient.
"""

import warnings

import tensorflow as tf
from keras.src import tree
from keras.src.losses import loss as loss_module
from keras.src.trainers.data_adapters import data_adapter_utils


def train_step(model, data):
    x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
    with tf.GradientTape() as tape:
        y_pred = model(x, training=True) if model._call_has_training_arg else model(x)
        loss = model._compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
        )
        model._loss_tracker.update_state(
            loss_module.unscale_loss_for_distribution(loss),
            sample_weight=tf.shape(next(i for i in tree.flatten(x) if i is not None))[0],
        )
        if model.optimizer is not None:
            loss = model.optimizer.scale_loss(loss)

    trainable_weights = model.trainable_weights
    if not trainable_weights:  # as Keras' own step: nothing to clip or apply
        warnings.warn("The model does not have any trainable weights.", stacklevel=2)
        return model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
    gradients = tape.gradient(loss, trainable_weights)
    replica = tf.distribute.get_replica_context()
    replicas = replica.num_replicas_in_sync if replica is not None else 1
    if replicas > 1:
        gradients = _map_present(
            gradients, lambda g: replica.all_reduce(tf.distribute.ReduceOp.SUM, g)
        )
    gradients = model.clip_gradients_adaptively(gradients, [v.value for v in trainable_weights])
    if replicas > 1:
        gradients = _map_present(gradients, lambda g: [x / replicas for x in g])
    model.optimizer.apply_gradients(zip(gradients, trainable_weights, strict=True))
    return model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)


def _map_present(gradients, function):
    """`function` applied to the list of non-None gradients, Nones kept in place."""
    present = [i for i, g in enumerate(gradients) if g is not None]
    results = iter(function([gradients[i] for i in present]))
    return [next(results) if g is not None else None for g in gradients]
