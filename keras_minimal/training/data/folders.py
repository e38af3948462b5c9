"""ImageFolder directories: one sub-folder per class (how the VanillaNet README lays out ImageNet).

    train/n01440764/n01440764_10026.JPEG
    train/n01443537/...

Classes are the sub-folder names in sorted order (torchvision ImageFolder / timm),
so label i means the i-th folder name.
"""

import logging
import os

import numpy as np
import tensorflow as tf

from keras_minimal.training.data.sources import RecordSource

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
VERIFY_MODES = ("header", "decode", "none")
_MAGIC = (
    (b"\xff\xd8\xff",),  # JPEG
    (b"\x89PNG\r\n\x1a\n",),
    (b"GIF87a", b"GIF89a"),
    (b"BM",),
)
_MAX_NAMED = 20

logger = logging.getLogger(__name__)


def _has_image_header(path):
    with open(path, "rb") as f:
        head = f.read(16)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    return any(head.startswith(magic) for group in _MAGIC for magic in group)


def _decodes(path):
    try:
        tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError):
        return False
    return True


def _describe(paths, root):
    shown = [os.path.relpath(p, root) for p in paths[:_MAX_NAMED]]
    more = f" and {len(paths) - _MAX_NAMED} more" if len(paths) > _MAX_NAMED else ""
    return ", ".join(shown) + more


def list_image_folder(directory, verify="header", strict=False, allow_empty=False):
    """(paths, labels, class_names, skipped) of an ImageFolder directory.

    Files without an image extension, and (verify="header") files whose first bytes are
    not an image or (verify="decode") that do not decode, are skipped and named in one
    warning — or, with strict=True, refused with one error naming them.

    A class folder left without images is refused, as torchvision's ImageFolder does: it
    would be a class with no examples. allow_empty=True keeps it as a class (every label
    stays its folder's index in sorted order) with one warning naming it.
    """
    if verify not in VERIFY_MODES:
        raise ValueError(f"verify must be one of {VERIFY_MODES}. Received: verify={verify!r}")
    if not os.path.isdir(directory):
        raise ValueError(
            f"The data directory does not exist or is not a directory. Received: {directory!r}"
        )
    class_names = sorted(
        entry.name
        for entry in os.scandir(directory)
        if entry.is_dir() and not entry.name.startswith(".")
    )
    if not class_names:
        found = sorted(os.listdir(directory))[:10]
        raise ValueError(
            "An ImageFolder directory needs one sub-folder per class (e.g. train/n01440764/"
            f"*.JPEG); {directory!r} has no sub-folders. Found: {found}. Point --data at the "
            "folder that holds the class folders."
        )
    paths, labels, skipped = [], [], []
    for label, name in enumerate(class_names):
        class_dir = os.path.join(directory, name)
        for root, dirs, files in os.walk(class_dir, followlinks=True):
            dirs.sort()
            for file in sorted(files):
                if file.startswith("."):
                    continue
                path = os.path.join(root, file)
                usable = file.lower().endswith(IMAGE_EXTENSIONS) and os.path.getsize(path) > 0
                if usable and verify == "header":
                    usable = _has_image_header(path)
                elif usable and verify == "decode":
                    usable = _decodes(path)
                if usable:
                    paths.append(path)
                    labels.append(label)
                else:
                    skipped.append(path)
    if skipped:
        message = (
            f"{len(skipped)} file(s) in {directory!r} are not readable images: "
            f"{_describe(skipped, directory)}."
        )
        if strict:
            raise ValueError(f"{message} Remove them or pass strict=False to skip them.")
        logger.warning("%s Skipped them.", message)
    if not paths:
        raise ValueError(
            f"No images found under the class folders of {directory!r} (extensions "
            f"{IMAGE_EXTENSIONS}). Received: {directory!r}"
        )
    _check_empty_classes(directory, class_names, set(labels), allow_empty)
    return paths, np.asarray(labels, dtype="int32"), class_names, skipped


def _check_empty_classes(directory, class_names, labels_found, allow_empty):
    empty = [name for label, name in enumerate(class_names) if label not in labels_found]
    if not empty:
        return
    named = _describe([os.path.join(directory, name) for name in empty], directory)
    if allow_empty:
        logger.warning(
            "%d class folder(s) in %r have no images: %s. They stay classes (labels keep their "
            "folder indices) that have no examples to learn from.",
            len(empty),
            directory,
            named,
        )
        return
    raise ValueError(
        f"Each sub-folder of an ImageFolder directory is a class, and {len(empty)} of the "
        f"{len(class_names)} in {directory!r} have no readable images: they would be classes "
        "without examples. Remove the empty folder(s) or add images to them; to keep them as "
        "classes (e.g. so that labels match a model's classes), pass allow_empty=True. "
        f"Received: class folders without images: {named}"
    )


def check_same_size(paths, root):
    """Raise one error naming the files whose size differs from the first image's."""
    sizes = {}
    for path in paths:
        data = tf.io.read_file(path)
        if bool(tf.io.is_jpeg(data)):
            shape = tf.io.extract_jpeg_shape(data)[:2]
        else:
            shape = tf.shape(tf.io.decode_image(data, channels=3, expand_animations=False))[:2]
        sizes[path] = tuple(int(v) for v in shape.numpy())
    first = sizes[paths[0]]
    different = [p for p in paths if sizes[p] != first]
    if different:
        examples = ", ".join(
            f"{os.path.relpath(p, root)} is {sizes[p][0]}×{sizes[p][1]}"
            for p in different[:_MAX_NAMED]
        )
        raise ValueError(
            "image_size=None keeps every image at its native size, so all images must be the "
            f"same size to be batched; {os.path.relpath(paths[0], root)} is {first[0]}×"
            f"{first[1]} but {len(different)} differ: {examples}. Pass image_size=<side> to "
            "resize and centre-crop them."
        )


class ImageFolderSource(RecordSource):
    """Random-access source: each epoch is a stateless permutation of the file list."""

    def __init__(self, directory, verify="header", strict=False, allow_empty=False):
        self.directory = directory
        self.paths, self.labels, self.class_names, self.skipped = list_image_folder(
            directory, verify=verify, strict=strict, allow_empty=allow_empty
        )
        self.num_examples = len(self.paths)
        self.num_classes = len(self.class_names)

    def check_trainable(self):
        """Refuse images of a single class: nothing to learn (a one-class softmax
        cross-entropy is 0 whatever the weights). Evaluating on them is fine."""
        found = [self.class_names[label] for label in np.unique(self.labels)]
        if len(found) >= 2:
            return
        raise ValueError(
            f"Training needs images of at least two classes, and {self.directory!r} has "
            f"images of one class only ({found[0]!r}): a classifier has nothing to learn from "
            "it. Add one sub-folder of images per class (e.g. train/cat/*.jpg, train/dog/*.jpg) "
            f"and point the training data at their parent. Received: class folders "
            f"{self.class_names}"
        )

    def check_same_size(self):
        check_same_size(self.paths, self.directory)

    def description(self):
        return f"the image folder {self.directory!r}"

    def epoch_records(self, epoch, shuffle_seed):
        paths = tf.constant(self.paths)
        labels = tf.constant(self.labels)
        positions = tf.data.Dataset.range(self.num_examples)
        if shuffle_seed is not None:
            seed = tf.stack([tf.cast(shuffle_seed, tf.int64), tf.cast(epoch, tf.int64)])
            last = self.num_examples - 1

            def permute(position):
                return tf.random.experimental.index_shuffle(position, seed, last)

            positions = positions.map(permute)

        def describe(index):
            return {"path": tf.gather(paths, index), "label": tf.gather(labels, index)}

        return positions.map(describe)

    def load(self, record):
        return tf.io.read_file(record["path"]), record["label"], record["path"]
