"""Input pipelines: pure functions returning tf.data.Datasets of (image, label).

    from keras_minimal.training import data
    train = data.image_folder("/imagenet/train", training=True, batch_size=128)
    val = data.image_folder("/imagenet/val", training=False, batch_size=128)
    train = data.tfrecords("/imagenet/tfrecords/train-*", training=True, batch_size=128)
    train = data.tfds("imagenette/320px-v2", "train", training=True, batch_size=128)

Every function takes the pipeline options of `make_dataset` (image_size, crop_pct,
interpolation, augmentation, seed, num_hosts, host_index, start_step, epochs,
deterministic, num_classes, strict, max_bad_fraction, failures, ...). Examples that fail
to load are replaced (training) or skipped (evaluation), counted and logged; more than
max_bad_fraction (default 1 %) of an epoch stops the run with UnreadableDataError.
"""

from keras_minimal.training.data.arrays import ArraySource
from keras_minimal.training.data.failures import LoadFailures, UnreadableDataError
from keras_minimal.training.data.folders import ImageFolderSource, list_image_folder
from keras_minimal.training.data.pipeline import make_dataset, steps_per_epoch_for
from keras_minimal.training.data.sources import RecordSource
from keras_minimal.training.data.tfds import TFDSSource
from keras_minimal.training.data.tfrecords import TFRecordSource, image_example, write_tfrecords


def image_folder(
    directory, *, training, verify="header", strict=False, allow_empty=False, **options
):
    """An ImageFolder directory (one sub-folder per class) as a Dataset; for training, it
    must hold images of at least two classes."""
    source = ImageFolderSource(directory, verify=verify, strict=strict, allow_empty=allow_empty)
    if training:
        source.check_trainable()
    return make_dataset(source, training=training, strict=strict, **options)


def tfrecords(
    file_pattern, *, training, num_examples=None, label_offset=0, num_classes=None, **options
):
    """TFRecord shards in the TF ImageNet format (image/encoded, image/class/label)."""
    source = TFRecordSource(
        file_pattern, num_examples=num_examples, num_classes=num_classes, label_offset=label_offset
    )
    return make_dataset(source, training=training, num_classes=num_classes, **options)


def tfds(name, split, *, training, data_dir=None, manual_dir=None, download=False, **options):
    """A TFDS classification dataset by builder name (imagenet2012, imagenette, ...)."""
    source = TFDSSource(name, split, data_dir=data_dir, manual_dir=manual_dir, download=download)
    return make_dataset(source, training=training, **options)


__all__ = [
    "ArraySource",
    "ImageFolderSource",
    "LoadFailures",
    "RecordSource",
    "TFDSSource",
    "TFRecordSource",
    "UnreadableDataError",
    "image_example",
    "image_folder",
    "list_image_folder",
    "make_dataset",
    "steps_per_epoch_for",
    "tfds",
    "tfrecords",
    "write_tfrecords",
]
