"""Data-parallel scale-out on an existing engine, one module per backend.

- TensorFlow: "mirrored" = tf.distribute.MirroredStrategy over the local GPUs (or every
  logical CPU device when there is no GPU). TensorFlow does not XLA-compile the train
  step under a strategy here, so jit_compile is switched off (and logged).
- JAX: "data_parallel" = keras.distribution.DataParallel over every device of every
  process; multi-process runs call keras.distribution.initialize first
  (coordinator_address, num_processes, process_id, or the JAX environment variables).
- "none": one device; "auto": mirrored / data_parallel when there are several
  accelerators, else none.

Every host (process) reads its own shard of the data (host_index / num_hosts) with the
per-host batch global_batch / num_hosts, which the engine splits across local replicas.
"""

import logging

import keras

from keras_minimal.training.distribute.distribution import Distribution, check_global_batch

STRATEGIES = ("auto", "none", "mirrored", "data_parallel")
logger = logging.getLogger(__name__)


def resolve_distribution(strategy="none", **options):
    """A Distribution for the current Keras backend. Unknown names list the choices."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}. Received: strategy={strategy!r}")
    backend = keras.backend.backend()
    if strategy == "auto":
        strategy = _auto(backend)
    if strategy == "none":
        return Distribution("none")
    if strategy == "mirrored":
        if backend != "tensorflow":
            raise ValueError(
                "strategy='mirrored' is tf.distribute and needs KERAS_BACKEND=tensorflow; on "
                f"JAX use strategy='data_parallel'. Received backend: {backend!r}"
            )
        from keras_minimal.training.distribute import tensorflow as tf_distribute

        return tf_distribute.mirrored(**options)
    if backend != "jax":
        raise ValueError(
            "strategy='data_parallel' is keras.distribution and needs KERAS_BACKEND=jax; on "
            f"TensorFlow use strategy='mirrored'. Received backend: {backend!r}"
        )
    from keras_minimal.training.distribute import jax as jax_distribute

    return jax_distribute.data_parallel(**options)


def _auto(backend):
    if backend == "tensorflow":
        import tensorflow as tf

        return "mirrored" if len(tf.config.list_logical_devices("GPU")) > 1 else "none"
    if backend == "jax":
        import jax

        return "data_parallel" if jax.device_count() > 1 else "none"
    return "none"


__all__ = ["STRATEGIES", "Distribution", "check_global_batch", "resolve_distribution"]
