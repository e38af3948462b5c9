"""Calibration / verification images for export, through the training pipeline's eval path."""

import glob
import os

import numpy as np

from keras_minimal.normalization import IMAGENET_MEAN, IMAGENET_STD
from keras_minimal.training import data
from keras_minimal.training.digits import load_digits_rgb


def _from_dataset(dataset, limit):
    batches, count = [], 0
    for images, _ in dataset.as_numpy_iterator():
        batches.append(images)
        count += len(images)
        if count >= limit:
            break
    if not batches:
        raise ValueError("The representative data source yielded no images.")
    return np.concatenate(batches)[:limit].astype("float32")


def calibration_images(
    source, image_size, limit=200, crop_pct=0.875, interpolation="bicubic", normalize=False
):
    """Up to `limit` images (N, image_size, image_size, 3) for calibration and verification.

    Args:
        source: "digits" (scikit-learn's bundled digits), a .npy file of NHWC images,
            an ImageFolder directory, or a TFRecord file pattern (TF ImageNet format).
            Directories and TFRecords go through the evaluation preprocessing of
            keras_minimal.training.data (resize, centre crop with crop_pct).
        normalize: False: RGB in [0, 255], what models with include_preprocessing=True
            take; True: ImageNet-normalised, (x/255 − mean)/std, for models built without
            it. A .npy file holds the model's inputs already and is returned as it is.
    """
    source = os.fspath(source)
    if source.endswith(".npy"):
        return np.load(source, allow_pickle=False)[:limit].astype("float32")
    images = _rgb_images(source, image_size, limit, crop_pct, interpolation)
    if not normalize:
        return images
    mean, std = np.array(IMAGENET_MEAN, "float32"), np.array(IMAGENET_STD, "float32")
    return ((images / 255.0 - mean) / std).astype("float32")


def _rgb_images(source, image_size, limit, crop_pct, interpolation):
    if source == "digits":
        (images, _), _ = load_digits_rgb(image_size)
        return images[:limit]
    options = {
        "training": False,
        "batch_size": 32,
        "image_size": image_size,
        "crop_pct": crop_pct,
        "interpolation": interpolation,
    }
    if os.path.isdir(source):
        return _from_dataset(data.image_folder(source, **options), limit)
    if glob.glob(source):
        return _from_dataset(data.tfrecords(source, **options), limit)
    raise ValueError(
        "Representative data must be 'digits', a .npy file of NHWC images, an ImageFolder "
        f"directory or a TFRecord file pattern. Received: {source!r}"
    )
