"""The tf.data pipeline shared by every source: order, sharding, resume, decoding, batching.

Training stream (infinite, or `epochs` long):

    epoch e: source.epoch_records(e, seed)     seeded permutation / shuffle, same on every host
             .shard(num_hosts, host_index)     host h keeps positions h, h + H, ...
             .take(steps_per_epoch · batch)    every host the same number of steps
             .enumerate()                      position p → example seed (seed, e, p)
    concatenated over epochs, .skip(start_step · batch) to resume, then decode + crop +
    augment (parallel map), batch, batch transform (MixUp/CutMix), prefetch.

Everything random is stateless and keyed by (seed, epoch, position), so the same global
step always sees the same batch and the same augmentation — what exact resume needs — as
long as `deterministic=True` (parallel map in order). Per-host sharding happens on the
record descriptors, before anything is decoded.
"""

import tensorflow as tf

from keras_minimal.training.data import preprocessing
from keras_minimal.training.data.failures import (
    DEFAULT_MAX_FRACTION,
    LoadFailures,
    guarded_map,
    replace_failed,
)
from keras_minimal.validation import is_integer

AUTOTUNE = tf.data.AUTOTUNE
# Example seeds are (seed, epoch · _EPOCH_STRIDE + position): unique while an epoch has
# fewer than 2**32 examples.
_EPOCH_STRIDE = 2**32


def check_sharding(num_hosts, host_index):
    if not isinstance(num_hosts, int) or num_hosts < 1:
        raise ValueError(f"num_hosts must be a positive integer. Received: {num_hosts!r}")
    if not isinstance(host_index, int) or not 0 <= host_index < num_hosts:
        raise ValueError(
            f"host_index must lie in [0, num_hosts={num_hosts}). Received: {host_index!r}"
        )


def check_batch_size(batch_size, name="batch_size"):
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"{name} must be a positive integer. Received: {name}={batch_size!r}")


def steps_per_epoch_for(num_examples, global_batch_size, steps_per_epoch=None):
    """Full global batches per epoch (the remainder is dropped, a different one each epoch).

    A requested `steps_per_epoch` may use part of the data per epoch, never more than all
    of it: an epoch that ran into the next one's records would break exact resume.
    """
    steps = num_examples // global_batch_size
    if steps < 1:
        raise ValueError(
            f"The dataset has {num_examples} examples, fewer than one global batch of "
            f"{global_batch_size}. Use a smaller batch size. Received: "
            f"global_batch_size={global_batch_size}"
        )
    if steps_per_epoch is None:
        return steps
    if not is_integer(steps_per_epoch) or not 1 <= steps_per_epoch <= steps:
        raise ValueError(
            f"steps_per_epoch must lie in [1, {steps}]: {num_examples} examples hold {steps} "
            f"global batches of {global_batch_size}. Pass a smaller steps_per_epoch or leave "
            f"it unset. Received: steps_per_epoch={steps_per_epoch!r}"
        )
    return int(steps_per_epoch)


def _check_label(label, name, num_classes):
    if num_classes is None:
        return label
    message = (
        f"A label lies outside [0, num_classes={num_classes}) (for TF-slim ImageNet shards, "
        "whose labels run 1…1000, pass label_offset=-1). Example and label:"
    )
    in_range = (label >= 0) & (label < num_classes)
    with tf.control_dependencies([tf.debugging.Assert(in_range, [message, name, label])]):
        return tf.identity(label)


def _host_examples(source, num_hosts, host_index):
    count = getattr(source, "num_examples", None)
    return len(range(host_index, count, num_hosts)) if count else None


def _training_stream(source, seed, num_hosts, host_index, per_host_examples, start, epochs):
    """(record, example seed) from element `start` of the per-host stream on."""
    start_epoch, skip = divmod(int(start), per_host_examples)

    def epoch_stream(epoch):
        records = source.epoch_records(epoch, seed)
        if num_hosts > 1:
            records = records.shard(num_hosts, host_index)
        records = records.take(per_host_examples).enumerate()

        def with_seed(position, record):
            example_seed = tf.stack(
                [tf.cast(seed, tf.int64), epoch * _EPOCH_STRIDE + tf.cast(position, tf.int64)]
            )
            return record, example_seed

        return records.map(with_seed)

    stream = tf.data.Dataset.range(start_epoch, epochs if epochs else 2**62)
    stream = stream.flat_map(epoch_stream)
    return stream.skip(skip) if skip else stream


def _train_image(source, record, example_seed, image_size, crop, area, ratio, interpolation):
    loaded, label, name = source.load(record)
    crop_seed = preprocessing.fold_seed(example_seed, 0)
    if source.decoded:
        image = tf.cast(loaded, tf.float32)
        if crop:
            image = preprocessing.random_resized_crop(
                image, crop_seed, image_size, area, ratio, interpolation
            )
        elif image_size is not None:
            image = preprocessing.resize(image, (image_size, image_size), interpolation)
    elif crop:
        image = preprocessing.train_crop(loaded, crop_seed, image_size, area, ratio, interpolation)
    else:
        image = preprocessing.resize(
            preprocessing.decode_image(loaded), (image_size, image_size), interpolation
        )
    return image, label, name


def make_dataset(
    source,
    *,
    training,
    batch_size=None,
    image_size=224,
    crop_pct=preprocessing.DEFAULT_CROP_PCT,
    crop_mode="center",
    interpolation="bicubic",
    area_range=preprocessing.DEFAULT_AREA_RANGE,
    aspect_ratio_range=preprocessing.DEFAULT_ASPECT_RATIO_RANGE,
    hflip=0.5,
    augmentation=None,
    seed=0,
    num_hosts=1,
    host_index=0,
    start_step=0,
    steps_per_epoch=None,
    epochs=None,
    train_crop=True,
    deterministic=True,
    num_classes=None,
    strict=False,
    max_bad_fraction=DEFAULT_MAX_FRACTION,
    failures=None,
    num_parallel_calls=AUTOTUNE,
):
    """A tf.data.Dataset of (image, label) from a RecordSource.

    Args:
        source: a RecordSource (ImageFolderSource, TFRecordSource, TFDSSource).
        training: True: infinite (or `epochs`-long) seeded shuffled stream with the
            Inception crop, flip and `augmentation`; False: one ordered pass with the
            resize + centre crop.
        batch_size: per-host batch (global batch / num_hosts); None: unbatched (only
            without a batch-level augmentation such as MixUp).
        image_size: output side; None (evaluation only) keeps the native size, which
            needs every image to be the same size.
        crop_pct: evaluation: fraction kept by the centre crop (timm; 0.875 default).
        crop_mode: evaluation: "center" resizes the short side, "squash" both (timm).
        augmentation: a keras_minimal.training.augment.Augmentation (RandAugment, random
            erasing, MixUp/CutMix, one-hot targets) or None.
        seed: the data seed (epoch order and every augmentation draw).
        num_hosts, host_index: per-host sharding (multi-process data parallel).
        start_step: training: skip to this global step (resume) without decoding.
        steps_per_epoch: training: global batches per epoch (default: examples // global
            batch); every host yields this many batches per epoch.
        train_crop: training: the Inception crop (True) or only a resize to image_size.
        epochs: training: stop after this many epochs (None: repeat for ever).
        deterministic: keep the parallel map in order (needed for exact resume); False
            lets tf.data emit elements out of order for throughput.
        num_classes: labels must lie in [0, num_classes) — checked per example.
        strict: True: the first example that fails to load raises TensorFlow's error.
            False: a failed training example is replaced by another example of its batch
            (every step sees a full batch and the data position stays exact for resume), a
            failed evaluation example is skipped; both are counted per epoch in `failures`
            and the first few logged with their reason.
        max_bad_fraction: with strict=False, the run stops with UnreadableDataError as soon
            as more than this fraction of an epoch's (evaluation pass's) examples failed.
        failures: a LoadFailures to count into (its report: `summary(epoch)`); default a
            new one with `max_bad_fraction`.

    Images are float32 RGB in [0, 255]; labels int32, or float32 targets (batch, classes)
    when `augmentation` produces them.
    """
    check_sharding(num_hosts, host_index)
    preprocessing.check_interpolation(interpolation)
    preprocessing.check_crop_pct(crop_pct)
    preprocessing.check_crop_mode(crop_mode)
    if batch_size is not None:
        check_batch_size(batch_size)
    if num_classes is None:
        num_classes = source.num_classes
    elif source.num_classes is not None and source.num_classes > num_classes:
        raise ValueError(
            f"The data has {source.num_classes} classes, so its labels lie outside "
            f"[0, num_classes={num_classes}). Pass num_classes={source.num_classes} (the "
            f"model's classes) or point at the right data. Received: num_classes={num_classes}"
        )
    if augmentation is not None and augmentation.needs_batches and batch_size is None:
        raise ValueError(
            "MixUp/CutMix and one-hot targets work on batches: pass batch_size. "
            "Received: batch_size=None"
        )
    if image_size is None and training and (train_crop or not source.decoded):
        raise ValueError("Training crops need an output size. Received: image_size=None")
    if image_size is None and hasattr(source, "check_same_size"):
        source.check_same_size()
    options = tf.data.Options()
    options.deterministic = bool(deterministic)
    if failures is None and not strict:
        failures = LoadFailures(source, max_bad_fraction)

    if training:
        per_host_batch = batch_size or 1
        steps = steps_per_epoch_for(
            source.num_examples, per_host_batch * num_hosts, steps_per_epoch
        )
        per_host_examples = steps * per_host_batch
        records = _training_stream(
            source,
            seed,
            num_hosts,
            host_index,
            per_host_examples,
            int(start_step) * per_host_batch,
            epochs,
        )

        def load_train(record, example_seed):
            image, label, name = _train_image(
                source,
                record,
                example_seed,
                image_size,
                train_crop,
                area_range,
                aspect_ratio_range,
                interpolation,
            )
            if hflip:
                image = preprocessing.random_flip(
                    image, preprocessing.fold_seed(example_seed, 1), hflip
                )
            if augmentation is not None:
                image = augmentation.image(image, preprocessing.fold_seed(example_seed, 2))
            return image, label, name

        per_element = load_train

        def split(element):
            record, example_seed = element
            return record, example_seed[1] // _EPOCH_STRIDE

    else:
        records = source.epoch_records(0, None)
        if num_hosts > 1:
            records = records.shard(num_hosts, host_index)

        def load_eval(record):
            loaded, label, name = source.load(record)
            if source.decoded:
                image = tf.cast(loaded, tf.float32)
                if image_size is not None:
                    image = preprocessing.eval_resize_and_crop(
                        image, image_size, crop_pct, interpolation, crop_mode
                    )
            else:
                image = preprocessing.eval_image(
                    loaded, image_size, crop_pct, interpolation, crop_mode
                )
            return image, label, name

        per_element = load_eval

        def split(record):
            return record, None

    if strict:
        dataset = records.map(per_element, num_parallel_calls=num_parallel_calls)
        dataset = dataset.map(lambda image, label, name: (image, label, name, True))
    else:
        if failures.examples_per_epoch is None:
            failures.examples_per_epoch = (
                per_host_examples if training else _host_examples(source, num_hosts, host_index)
            )
        dataset = guarded_map(
            records, per_element, failures, split, num_parallel_calls, bool(deterministic)
        )
    # Label errors are the user's to fix, never skipped.
    dataset = dataset.map(
        lambda image, label, name, ok: (image, _check_label(label, name, num_classes), ok)
    )
    if training and batch_size is not None:
        dataset = dataset.batch(batch_size, drop_remainder=True)
        if strict:
            dataset = dataset.map(lambda images, labels, ok: (images, labels))
        else:
            dataset = dataset.map(
                lambda images, labels, ok: replace_failed((images, labels), ok, failures)
            )
    else:
        dataset = dataset.filter(lambda image, label, ok: ok)
        dataset = dataset.map(lambda image, label, ok: (image, label))
        if batch_size is not None:
            dataset = dataset.batch(batch_size, drop_remainder=training)
    if batch_size is not None:
        if augmentation is not None and training:
            batches = dataset.enumerate(start=int(start_step))

            def transform(step, batch):
                images, labels = batch
                batch_seed = tf.stack([tf.cast(seed, tf.int64) + 1, tf.cast(step, tf.int64)])
                return augmentation.batch(images, labels, batch_seed)

            dataset = batches.map(transform, num_parallel_calls=num_parallel_calls)
        elif augmentation is not None:
            dataset = dataset.map(augmentation.eval_targets, num_parallel_calls=num_parallel_calls)
    return dataset.prefetch(AUTOTUNE).with_options(options)
