"""TensorFlow backend: tf.distribute.MirroredStrategy."""

import logging

import tensorflow as tf

from keras_minimal.training.distribute.distribution import Distribution

logger = logging.getLogger(__name__)


def mirrored(devices=None):
    if devices is None:
        devices = [d.name for d in tf.config.list_logical_devices("GPU")]
        if not devices:
            devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    strategy = tf.distribute.MirroredStrategy(devices=devices)
    logger.warning(
        "MirroredStrategy over %d device(s) %s. XLA (jit_compile) is disabled: TensorFlow "
        "does not XLA-compile the train step under a tf.distribute strategy.",
        strategy.num_replicas_in_sync,
        devices,
    )
    return Distribution(
        "mirrored",
        num_replicas=strategy.num_replicas_in_sync,
        supports_jit=False,
        scope_factory=strategy.scope,
        engine=strategy,
    )
