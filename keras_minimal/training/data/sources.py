"""What the pipeline needs from a data source: a deterministic order per epoch, and loading."""

import re

from keras_minimal.training.data.preprocessing import decode_image


class RecordSource:
    """A labelled image collection that the pipeline (pipeline.py) reads.

    Subclasses set `num_examples` (int, or None if unknown), `num_classes` (int or None)
    and implement:

    - epoch_records(epoch, shuffle_seed) → tf.data.Dataset of cheap record descriptors
      in a fixed order for that epoch: a permutation seeded by (shuffle_seed, epoch), or
      the stored order when shuffle_seed is None. `epoch` may be a tensor.
    - load(record) → (encoded image bytes, int label, name for messages).

    check_trainable() refuses data that cannot train a classifier; a subclass that knows
    more than num_classes (which classes have examples) checks that too.

    Sharding across hosts, skipping to a resume step and decoding happen in the pipeline,
    on the descriptors, so that skipped and other hosts' examples are never decoded.
    """

    num_examples = None
    num_classes = None
    decoded = False  # True: load() returns a decoded image tensor instead of bytes

    def epoch_records(self, epoch, shuffle_seed):
        raise NotImplementedError

    def load(self, record):
        raise NotImplementedError

    def description(self):
        """How messages name this data."""
        return type(self).__name__

    def explain_failure(self, record):
        """(name, reason) of a record that failed to load, found by loading it again, eagerly
        (called only for the first few failures of an epoch)."""
        name = "a record"
        try:
            loaded, _, name_tensor = self.load(record)
            name = text_of(name_tensor) or name
            if not self.decoded:
                decode_image(loaded)
        except Exception as error:  # noqa: BLE001 - the error's text is the reason
            return name, error_text(error)
        return name, "it decodes, but its crop or augmentation failed"

    def failure_hint(self):
        """What to check when examples fail to load."""
        return (
            "Check that the files are complete images TensorFlow decodes (JPEG, PNG, GIF, "
            "BMP, WebP): replace or remove the broken ones."
        )

    def check_trainable(self):
        """Raise ValueError if this data cannot train a classifier (fewer than two classes).
        For training data only (data.image_folder(training=True) and tools/train.py call it):
        evaluating on one class is fine."""
        if self.num_classes is not None and self.num_classes < 2:
            raise ValueError(
                "Training needs examples of at least two classes: with one, a classifier has "
                "nothing to learn. Train on data with two or more classes. Received: "
                f"num_classes={self.num_classes}"
            )


def block_shuffle(records, block_size, seed):
    """Shuffle within consecutive blocks with stateless keys from `seed` (shape [2], may be a
    tensor): a shuffle buffer whose order is a pure function of the seed, so that an epoch
    replays identically after a restart (Dataset.shuffle's seed must be a Python int)."""
    import tensorflow as tf

    def keyed(position, record):
        key = tf.random.stateless_uniform(
            [], tf.random.experimental.stateless_fold_in(seed, position)
        )
        return key, record

    def shuffle_block(keys, block):
        order = tf.argsort(keys)
        return tf.nest.map_structure(lambda x: tf.gather(x, order), block)

    blocks = records.enumerate().map(keyed).batch(block_size).map(shuffle_block)
    return blocks.unbatch()


def text_of(tensor):
    value = tensor.numpy() if hasattr(tensor, "numpy") else tensor
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def error_text(error):
    """The first line of an error, without TensorFlow's op decorations."""
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", str(text))
    text = re.sub(r"\s*\[Op:[^\]]*\].*", "", text, flags=re.S)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
