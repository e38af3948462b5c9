"""The TensorFlow train step with adaptive gradient clipping.

Keras 3.15's TensorFlowTrainer.train_step (keras/src/backend/tensorflow/trainer.py) with
one step added: the gradients of the (possibly loss-scaled) loss are clipped before
`optimizer.apply_gradients`.
"""

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
    gradients = tape.gradient(loss, trainable_weights)
    gradients = model.clip_gradients_adaptively(gradients, [v.value for v in trainable_weights])
    model.optimizer.apply_gradients(zip(gradients, trainable_weights, strict=True))
    return model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
