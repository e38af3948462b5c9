"""In-memory arrays (already decoded images) as a source, e.g. the demo's digits."""

import numpy as np
import tensorflow as tf

from keras_minimal.training.data.sources import RecordSource


class ArraySource(RecordSource):
    """Images (N, H, W, C) and int labels (N,) held in memory; load() returns the image."""

    decoded = True

    def __init__(self, images, labels, num_classes=None):
        images, labels = np.asarray(images), np.asarray(labels)
        if images.ndim != 4 or labels.shape != (len(images),):
            raise ValueError(
                "ArraySource takes images (N, H, W, C) and labels (N,). Received: "
                f"images {images.shape}, labels {labels.shape}"
            )
        self.images, self.labels = images, labels.astype("int32")
        self.num_examples = len(images)
        self.num_classes = int(num_classes or labels.max() + 1)

    def epoch_records(self, epoch, shuffle_seed):
        positions = tf.data.Dataset.range(self.num_examples)
        if shuffle_seed is not None:
            seed = tf.stack([tf.cast(shuffle_seed, tf.int64), tf.cast(epoch, tf.int64)])
            last = self.num_examples - 1
            positions = positions.map(lambda p: tf.random.experimental.index_shuffle(p, seed, last))
        return positions

    def description(self):
        return f"the in-memory arrays ({self.num_examples} images)"

    def load(self, index):
        image = tf.gather(tf.constant(self.images), index)
        label = tf.gather(tf.constant(self.labels), index)
        return image, label, tf.strings.as_string(index)
