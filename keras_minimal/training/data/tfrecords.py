"""TFRecord shards in the TensorFlow ImageNet format (image/encoded, image/class/label).

The format of TF's build_imagenet_data.py / the TF Model Garden: one tf.train.Example per
image with the encoded JPEG under "image/encoded", an int64 "image/class/label" and,
optionally, "image/filename". Shards written by build_imagenet_data.py number the classes
1 … 1000 (0 was background): read them with label_offset=-1.
"""

import logging

import tensorflow as tf

from keras_minimal.training.data.sources import RecordSource, block_shuffle, text_of

logger = logging.getLogger(__name__)

FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/class/label": tf.io.FixedLenFeature([], tf.int64),
    "image/filename": tf.io.FixedLenFeature([], tf.string, default_value=""),
}
REQUIRED = ("image/encoded", "image/class/label")


def _int64(value):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def _bytes(value):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def image_example(encoded, label, filename=""):
    """One serialized tf.train.Example in the TF ImageNet format."""
    features = {
        "image/encoded": _bytes(encoded),
        "image/class/label": _int64(int(label)),
        "image/filename": _bytes(filename.encode() if isinstance(filename, str) else filename),
    }
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def write_tfrecords(examples, path_prefix, num_shards=1):
    """Write (encoded_bytes, label, filename) triples round-robin into
    `{path_prefix}-{i:05d}-of-{num_shards:05d}` shards; returns the paths."""
    paths = [f"{path_prefix}-{i:05d}-of-{num_shards:05d}" for i in range(num_shards)]
    writers = [tf.io.TFRecordWriter(p) for p in paths]
    try:
        for i, (encoded, label, filename) in enumerate(examples):
            writers[i % num_shards].write(image_example(encoded, label, filename))
    finally:
        for writer in writers:
            writer.close()
    return paths


def resolve_files(file_pattern):
    patterns = [file_pattern] if isinstance(file_pattern, str) else list(file_pattern)
    files = sorted({f for p in patterns for f in tf.io.gfile.glob(p)})
    if not files:
        raise ValueError(
            "No TFRecord file matches the pattern(s). Pass a glob such as "
            f"'/data/imagenet/train-*'. Received: {file_pattern!r}"
        )
    return files


def count_records(files):
    return int(sum(1 for _ in tf.data.TFRecordDataset(files)))


class TFRecordSource(RecordSource):
    """Streaming source: per epoch, a seeded order of the shards, interleaved, then a seeded
    shuffle buffer (the shards themselves should be shuffled when written, as they are for
    ImageNet)."""

    def __init__(
        self,
        file_pattern,
        num_examples=None,
        num_classes=None,
        label_offset=0,
        shuffle_buffer=10_000,
        cycle_length=16,
    ):
        self.files = resolve_files(file_pattern)
        if num_examples is None:
            logger.warning(
                "Counting the records of %d TFRecord file(s) (pass num_examples to skip this).",
                len(self.files),
            )
            num_examples = count_records(self.files)
        self.num_examples = int(num_examples)
        self.num_classes = num_classes
        self.label_offset = int(label_offset)
        self.shuffle_buffer = int(shuffle_buffer)
        self.cycle_length = int(cycle_length)

    def epoch_records(self, epoch, shuffle_seed):
        files = tf.constant(self.files)
        if shuffle_seed is None:
            return tf.data.TFRecordDataset(files)
        seed = tf.stack([tf.cast(shuffle_seed, tf.int64), tf.cast(epoch, tf.int64)])
        files = tf.random.experimental.stateless_shuffle(files, seed=seed)
        records = tf.data.Dataset.from_tensor_slices(files).interleave(
            tf.data.TFRecordDataset,
            cycle_length=min(self.cycle_length, len(self.files)),
            block_length=1,
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        seed = tf.stack([tf.cast(shuffle_seed, tf.int64) + 1, tf.cast(epoch, tf.int64)])
        return block_shuffle(records, self.shuffle_buffer, seed)

    def description(self):
        shown = ", ".join(self.files[:3]) + (
            f" and {len(self.files) - 3} more" if len(self.files) > 3 else ""
        )
        return f"the TFRecord file(s) {shown}"

    def explain_failure(self, record):
        try:
            features = tf.train.Example.FromString(record.numpy()).features.feature
        except Exception:  # noqa: BLE001 - protobuf's DecodeError: not an Example
            return "a record", "it is not a serialized tf.train.Example"
        filename = (
            features["image/filename"].bytes_list.value if "image/filename" in features else []
        )
        name = text_of(filename[0]) if filename else "a record"
        missing = [key for key in REQUIRED if key not in features]
        if missing:
            return name, (
                f"it has no {', '.join(missing)} feature (features found: "
                f"{', '.join(sorted(features)) or 'none'}; expected: {', '.join(REQUIRED)})"
            )
        return name, super().explain_failure(record)[1]

    def failure_hint(self):
        return (
            "Check that the records are tf.train.Examples in the TF ImageNet format "
            f"({', '.join(REQUIRED)}) holding complete JPEG/PNG images."
        )

    def load(self, record):
        parsed = tf.io.parse_single_example(record, FEATURES)
        label = tf.cast(parsed["image/class/label"], tf.int32) + self.label_offset
        return parsed["image/encoded"], label, parsed["image/filename"]
