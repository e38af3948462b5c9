"""What the pipeline needs from a data source: a deterministic order per epoch, and loading."""


class RecordSource:
    """A labelled image collection that the pipeline (pipeline.py) reads.

    Subclasses set `num_examples` (int, or None if unknown), `num_classes` (int or None)
    and implement:

    - epoch_records(epoch, shuffle_seed) → tf.data.Dataset of cheap record descriptors
      in a fixed order for that epoch: a permutation seeded by (shuffle_seed, epoch), or
      the stored order when shuffle_seed is None. `epoch` may be a tensor.
    - load(record) → (encoded image bytes, int label, name for messages).

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
