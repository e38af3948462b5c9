"""Decoding, the Inception-style training crop and the crop_pct evaluation crop (tf.data ops).

Images leave these functions as float32 RGB in [0, 255], the input the models take
with `include_preprocessing=True`. Every random draw is stateless and takes its
seed explicitly, so that a pipeline position always gets the same augmentation
(what makes a resumed run see the data an uninterrupted one would).
"""

import math

import tensorflow as tf

INTERPOLATIONS = ("bicubic", "bilinear", "nearest", "area")
# timm / the Inception paper: RandomResizedCrop(scale=(0.08, 1), ratio=(3/4, 4/3)).
DEFAULT_AREA_RANGE = (0.08, 1.0)
DEFAULT_ASPECT_RATIO_RANGE = (3.0 / 4.0, 4.0 / 3.0)
DEFAULT_CROP_PCT = 0.875
CROP_MODES = ("center", "squash")
# Training crops are resized without antialiasing, as TensorFlow's reference ImageNet
# pipelines do: antialiased bicubic is ~4× slower in tf.data on CPU and the crop scale is
# random anyway. Evaluation keeps PIL-like antialiasing (timm's transform, for parity).
TRAIN_ANTIALIAS = False


def check_interpolation(interpolation):
    if interpolation not in INTERPOLATIONS:
        raise ValueError(
            f"interpolation must be one of {INTERPOLATIONS}. Received: interpolation="
            f"{interpolation!r}"
        )
    return interpolation


def check_crop_mode(crop_mode):
    if crop_mode not in CROP_MODES:
        raise ValueError(
            f"crop_mode must be one of {CROP_MODES} (timm: 'center' resizes the short side, "
            f"'squash' both sides). Received: crop_mode={crop_mode!r}"
        )
    return crop_mode


def check_crop_pct(crop_pct):
    if not 0.0 < crop_pct <= 1.0:
        raise ValueError(
            "crop_pct is the fraction of the resized image kept by the centre crop and must "
            f"lie in (0, 1]. Received: crop_pct={crop_pct!r}"
        )
    return crop_pct


def fold_seed(seed, salt):
    """A new stateless seed derived from `seed` (shape [2]) and an integer salt."""
    return tf.random.experimental.stateless_fold_in(seed, salt)


def decode_image(image_bytes):
    """Any JPEG/PNG/GIF/BMP/WebP as uint8 (H, W, 3)."""
    image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def image_shape(image_bytes):
    """(height, width, channels) without decoding the pixels for JPEG, by decoding otherwise."""
    return tf.cond(
        tf.io.is_jpeg(image_bytes),
        lambda: tf.io.extract_jpeg_shape(image_bytes),
        lambda: tf.shape(decode_image(image_bytes)),
    )


def resize(image, size, interpolation, antialias=True):
    """Resize to size=(height, width); antialiased like PIL when it shrinks (antialias=True)."""
    resized = tf.image.resize(
        tf.cast(image, tf.float32), size, method=interpolation, antialias=antialias
    )
    return tf.clip_by_value(resized, 0.0, 255.0)


def crop_window(shape, seed, area_range, aspect_ratio_range):
    """(offset_y, offset_x, height, width) of an Inception-style random crop of an image shape."""
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        shape,
        bounding_boxes=tf.constant([0.0, 0.0, 1.0, 1.0], shape=[1, 1, 4]),
        seed=seed,
        min_object_covered=0.0,
        aspect_ratio_range=aspect_ratio_range,
        area_range=area_range,
        max_attempts=10,
        use_image_if_no_bounding_boxes=True,
    )
    return tf.stack([begin[0], begin[1], size[0], size[1]])


def random_crop_window(image_bytes, seed, area_range, aspect_ratio_range):
    """crop_window() of encoded image bytes, read from the header without decoding."""
    return crop_window(image_shape(image_bytes), seed, area_range, aspect_ratio_range)


def decode_and_crop(image_bytes, window):
    """Decode only the window for JPEG (decode_and_crop_jpeg), decode then crop otherwise."""

    def jpeg():
        return tf.io.decode_and_crop_jpeg(image_bytes, window, channels=3)

    def other():
        image = decode_image(image_bytes)
        return tf.image.crop_to_bounding_box(image, window[0], window[1], window[2], window[3])

    image = tf.cond(tf.io.is_jpeg(image_bytes), jpeg, other)
    image.set_shape([None, None, 3])
    return image


def train_crop(
    image_bytes,
    seed,
    image_size,
    area_range=DEFAULT_AREA_RANGE,
    aspect_ratio_range=DEFAULT_ASPECT_RATIO_RANGE,
    interpolation="bicubic",
):
    """Random-area, random-aspect crop resized to image_size² (timm RandomResizedCrop)."""
    window = random_crop_window(image_bytes, seed, area_range, aspect_ratio_range)
    image = decode_and_crop(image_bytes, window)
    return resize(image, (image_size, image_size), interpolation, antialias=TRAIN_ANTIALIAS)


def random_resized_crop(
    image,
    seed,
    image_size,
    area_range=DEFAULT_AREA_RANGE,
    aspect_ratio_range=DEFAULT_ASPECT_RATIO_RANGE,
    interpolation="bicubic",
):
    """The training crop for an already decoded image."""
    window = crop_window(tf.shape(image), seed, area_range, aspect_ratio_range)
    image = tf.image.crop_to_bounding_box(image, window[0], window[1], window[2], window[3])
    return resize(image, (image_size, image_size), interpolation, antialias=TRAIN_ANTIALIAS)


def random_flip(image, seed, probability=0.5):
    flip = tf.random.stateless_uniform([], seed) < probability
    return tf.cond(flip, lambda: tf.image.flip_left_right(image), lambda: image)


def eval_resize_and_crop(
    image, image_size, crop_pct=DEFAULT_CROP_PCT, interpolation="bicubic", crop_mode="center"
):
    """timm's evaluation transform: resize to ⌊size / crop_pct⌋, then the centre crop.

    crop_mode "center" resizes the short side (the long one truncated, as torchvision's
    Resize); "squash" resizes both sides to ⌊size / crop_pct⌋ (timm's dm_nfnet_* configs).
    The crop offset rounds half to even, as torchvision's CenterCrop (Python's round).
    """
    scale_size = math.floor(image_size / crop_pct)
    if crop_mode == "squash":
        new_size = tf.constant([scale_size, scale_size], tf.int32)
    else:
        shape = tf.cast(tf.shape(image)[:2], tf.float64)
        new_size = tf.cast(tf.floor(scale_size * shape / tf.reduce_min(shape)), tf.int32)
        new_size = tf.maximum(new_size, scale_size)
    image = resize(image, new_size, interpolation)
    top, left = tf.unstack(tf.cast(tf.round((new_size - image_size) / 2), tf.int32))
    return tf.image.crop_to_bounding_box(image, top, left, image_size, image_size)


def eval_image(
    image_bytes, image_size, crop_pct=DEFAULT_CROP_PCT, interpolation="bicubic", crop_mode="center"
):
    """Decode then resize + centre crop; image_size=None keeps the native size."""
    image = decode_image(image_bytes)
    if image_size is None:
        return tf.cast(image, tf.float32)
    return eval_resize_and_crop(image, image_size, crop_pct, interpolation, crop_mode)
