"""TensorFlow Datasets builders by name: imagenet2012 (with manual_dir), imagenette, ...

tensorflow-datasets is an optional extra (`pip install 'keras-minimal[tfds]'`). Images are
read still encoded (tfds.decode.SkipDecoding) so that the training crop can decode only the
crop window, as for the other sources.
"""

import tensorflow as tf

from keras_minimal.training.data.sources import RecordSource, block_shuffle


def _import_tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise ImportError(
            "TFDS datasets need tensorflow-datasets: pip install 'keras-minimal[tfds]'."
        ) from None
    return tfds


class TFDSSource(RecordSource):
    """A TFDS split with an "image" and a "label" feature (most classification builders).

    Args:
        name: builder name, optionally with config/version ("imagenette/320px-v2").
        split: "train", "validation", "train[:10%]", ...
        data_dir: where prepared datasets live (TFDS default: ~/tensorflow_datasets).
        manual_dir: for builders that need manually downloaded files (imagenet2012:
            ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar).
        download: prepare the dataset if it is not there yet (download_and_prepare).
    """

    def __init__(
        self,
        name,
        split,
        data_dir=None,
        manual_dir=None,
        download=False,
        image_key="image",
        label_key="label",
        shuffle_buffer=10_000,
    ):
        tfds = _import_tfds()
        try:
            self.builder = tfds.builder(name, data_dir=data_dir)
        except Exception as error:  # tfds raises its own DatasetNotFoundError
            raise ValueError(
                f"Unknown TFDS dataset {name!r}: {error}. See tfds.list_builders()."
            ) from None
        if download or manual_dir is not None:
            config = tfds.download.DownloadConfig(manual_dir=manual_dir)
            self.builder.download_and_prepare(download_config=config)
        info = self.builder.info
        for key in (image_key, label_key):
            if key not in info.features:
                raise ValueError(
                    f"TFDS dataset {name!r} has no {key!r} feature; its features are "
                    f"{sorted(info.features)}. Pass image_key=/label_key=."
                )
        self._records = self.builder.as_dataset(
            split=split, shuffle_files=False, decoders={image_key: tfds.decode.SkipDecoding()}
        )
        try:
            self.num_examples = int(info.splits[split].num_examples)
        except (KeyError, ValueError):
            # No split metadata (e.g. tfds.testing.mock_data): count the records.
            self.num_examples = int(self._records.reduce(0, lambda count, _: count + 1))
        if self.num_examples == 0:
            raise ValueError(
                f"TFDS dataset {name!r} split {split!r} is empty or not prepared: pass "
                "download=True (or manual_dir= for imagenet2012)."
            )
        self.num_classes = info.features[label_key].num_classes
        self.class_names = list(getattr(info.features[label_key], "names", []) or [])
        self.name, self.split = name, split
        self.image_key, self.label_key = image_key, label_key
        self.shuffle_buffer = int(shuffle_buffer)

    def epoch_records(self, epoch, shuffle_seed):
        records = self._records
        if shuffle_seed is None:
            return records
        seed = tf.stack([tf.cast(shuffle_seed, tf.int64) + 1, tf.cast(epoch, tf.int64)])
        return block_shuffle(records, self.shuffle_buffer, seed)

    def description(self):
        return f"the TFDS dataset {self.name!r} split {self.split!r}"

    def load(self, record):
        name = tf.strings.join([self.name, ":", self.split])
        return record[self.image_key], tf.cast(record[self.label_key], tf.int32), name
