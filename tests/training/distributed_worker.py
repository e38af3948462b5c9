"""Run in a subprocess by test_distribute.py: the engine must see 2 devices from the start.

    python -m tests.training.distributed_worker mirrored|data_parallel|multiprocess ...
Prints one JSON line with what the test checks.
"""

import json
import os
import sys

import numpy as np


def indexed_source(n=32, classes=4):
    """Image i is filled with the value i, so a batch tells which examples it holds."""
    from keras_minimal.training.data import ArraySource

    images = np.broadcast_to(np.arange(n, dtype="float32")[:, None, None, None], (n, 32, 32, 3))
    return ArraySource(images.copy(), np.arange(n) % classes, num_classes=classes)


def tiny_trainer(distribution, output_dir, global_batch_size=8):
    from keras_minimal.applications import VanillaNet
    from keras_minimal.training.recipes import apply_overrides, get_recipe
    from keras_minimal.training.trainer import Trainer

    recipe = apply_overrides(
        get_recipe("vanillanet_5"),
        "epochs=2,warmup_epochs=0,train_image_size=32,eval_image_size=32,randaugment=none,"
        "random_erasing=0,mixup_alpha=0,cutmix_alpha=0,color_jitter=none",
    )

    def model():
        return VanillaNet(
            [16, 32, 64, 128],
            [2, 2, 2],
            classes=4,
            input_shape=(32, 32, 3),
            classifier_activation=None,
            name="tiny",
        )

    return Trainer(
        model,
        recipe,
        indexed_source(),
        output_dir=output_dir,
        global_batch_size=global_batch_size,
        distribution=distribution,
        train_crop=False,
        hflip=0.0,
        tensorboard=False,
        verbose=0,
    )


def examples_per_replica(trainer, local_parts):
    """{replica: [example ids]} over one epoch of the trainer's per-host stream."""
    from keras_minimal.training.data import make_dataset

    dataset = make_dataset(
        trainer.train_source,
        training=True,
        batch_size=trainer.per_host_batch,
        image_size=32,
        train_crop=False,
        hflip=0.0,
        epochs=1,
        num_hosts=trainer.distribution.num_hosts,
        host_index=trainer.distribution.host_index,
    )
    seen = {}
    for images, _ in dataset:
        for replica, part in enumerate(local_parts(images)):
            ids = np.asarray(part)[:, 0, 0, 0].astype(int).tolist()
            seen.setdefault(replica, []).extend(ids)
    return seen


def mirrored(output_dir):
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from keras_minimal.training.distribute import resolve_distribution

    distribution = resolve_distribution("mirrored")
    trainer = tiny_trainer(distribution, output_dir)
    strategy = distribution.engine

    def local_parts(images):
        distributed = strategy.experimental_distribute_values_from_function(
            lambda context: tf.split(images, strategy.num_replicas_in_sync)[
                context.replica_id_in_sync_group
            ]
        )
        return [t.numpy() for t in strategy.experimental_local_results(distributed)]

    seen = examples_per_replica(trainer, local_parts)
    # What Keras' fit does with the per-host batches: experimental_distribute_dataset.
    dataset = trainer.train_dataset(0, epochs=1)
    distributed_ids = {}
    for batch in strategy.experimental_distribute_dataset(dataset):
        for replica, part in enumerate(strategy.experimental_local_results(batch[0])):
            distributed_ids.setdefault(replica, []).extend(
                np.asarray(part)[:, 0, 0, 0].astype(int).tolist()
            )
    history = trainer.fit()
    return {
        "replicas": distribution.num_replicas,
        "jit": trainer.jit_compile,
        "peak_lr": trainer.model.optimizer._learning_rate.peak,
        "seen": seen,
        "distributed": distributed_ids,
        "loss": history["loss"],
    }


def data_parallel(output_dir, **options):
    import jax
    import keras

    from keras_minimal.training.distribute import resolve_distribution

    distribution = resolve_distribution("data_parallel", **options)
    trainer = tiny_trainer(distribution, output_dir)
    engine = distribution.engine

    def local_parts(images):
        if jax.process_count() > 1:
            return [np.asarray(images)]  # one local device: this host's shard
        array = keras.distribution.distribute_tensor(
            np.asarray(images), engine.get_data_layout(images.shape)
        )
        shards = sorted(array.addressable_shards, key=lambda s: s.device.id)
        return [np.asarray(s.data) for s in shards]

    seen = examples_per_replica(trainer, local_parts)
    history = trainer.fit()
    kernel = trainer.model.get_layer("predictions").kernel.value
    return {
        "replicas": distribution.num_replicas,
        "processes": jax.process_count(),
        "process": jax.process_index(),
        "peak_lr": trainer.model.optimizer._learning_rate.peak,
        "seen": seen,
        "loss": history["loss"],
        "kernel_devices": len(kernel.sharding.device_set),
        "kernel_sum": float(np.asarray(jax.device_get(kernel)).sum())
        if kernel.is_fully_addressable
        else None,
    }


def agc_mirrored(output_dir):
    """One AGC step of SGD(1) on 2 replicas and on one device, from the same weights."""
    del output_dir
    import keras
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from keras_minimal.training import AGCModel
    from tests.training.agc_models import every_parameter_kind, regression_data

    x, y = regression_data(32)
    steps = {}
    for replicas, strategy in (
        (2, tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])),
        (1, tf.distribute.get_strategy()),
    ):
        with strategy.scope():
            keras.utils.set_random_seed(0)
            model = every_parameter_kind()
            trainer = AGCModel(model, clipping=1e-4)
            trainer.compile(keras.optimizers.SGD(1.0), "mse", jit_compile=False)
        before = [v.numpy() for v in model.trainable_weights]
        trainer.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
        paths = [v.path for v in model.trainable_weights]
        steps[replicas] = {
            "before": {p: w.tolist() for p, w in zip(paths, before, strict=True)},
            "step": {
                p: (v.numpy() - w).tolist()
                for p, v, w in zip(paths, model.trainable_weights, before, strict=True)
            },
        }
    return steps


if __name__ == "__main__":
    mode, output_dir = sys.argv[1], sys.argv[2]
    if mode == "mirrored":
        result = mirrored(output_dir)
    elif mode == "agc_mirrored":
        result = agc_mirrored(output_dir)
    elif mode == "data_parallel":
        result = data_parallel(output_dir)
    else:
        process_id, port = int(sys.argv[3]), sys.argv[4]
        result = data_parallel(
            os.path.join(output_dir, str(process_id)),
            coordinator_address=f"localhost:{port}",
            num_processes=2,
            process_id=process_id,
        )
    print("RESULT " + json.dumps(result))
