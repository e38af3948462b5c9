"""JAX backend: keras.distribution.DataParallel, multi-process via keras.distribution.initialize."""

import logging

import keras

from keras_minimal.training.distribute.distribution import Distribution

logger = logging.getLogger(__name__)


def data_parallel(coordinator_address=None, num_processes=None, process_id=None):
    if num_processes is not None and num_processes > 1:
        keras.distribution.initialize(
            job_addresses=coordinator_address, num_processes=num_processes, process_id=process_id
        )
    import jax

    devices = keras.distribution.list_devices()
    # Each process feeds its own shard (the pipeline shards per host), so Keras must not
    # shard the dataset again.
    distribution = keras.distribution.DataParallel(devices=devices, auto_shard_dataset=False)
    keras.distribution.set_distribution(distribution)
    logger.warning(
        "DataParallel over %d device(s) in %d process(es) (this is process %d).",
        len(devices),
        jax.process_count(),
        jax.process_index(),
    )
    return Distribution(
        "data_parallel",
        num_replicas=len(devices),
        num_hosts=jax.process_count(),
        host_index=jax.process_index(),
        supports_jit=True,
        scope_factory=distribution.scope,
        engine=distribution,
    )
