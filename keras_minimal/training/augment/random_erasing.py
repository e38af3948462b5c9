"""timm RandomErasing (mode="pixel", one box) on a float32 [0, 255] image, stateless.

With probability p, up to 10 attempts draw an area in [2 %, 1/3] of the image and a
log-uniform aspect ratio in [0.3, 1/0.3]; the first box that fits is filled with
per-pixel Gaussian noise. timm draws N(0, 1) in the normalised space; here the noise is
mapped back through the ImageNet mean/std so that the model's preprocessing turns it into
N(0, 1) again (values are not clipped, as in timm).
"""

import math

import tensorflow as tf

from keras_minimal.normalization import IMAGENET_MEAN, IMAGENET_STD

ATTEMPTS = 10


def random_erasing(
    image, seed, probability, min_area=0.02, max_area=1 / 3, min_aspect=0.3, max_aspect=None
):
    fold = tf.random.experimental.stateless_fold_in
    max_aspect = max_aspect or 1.0 / min_aspect
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    area = tf.cast(height * width, tf.float32)
    target_area = tf.random.stateless_uniform([ATTEMPTS], fold(seed, 1), min_area, max_area) * area
    log_ratio = tf.random.stateless_uniform(
        [ATTEMPTS], fold(seed, 2), math.log(min_aspect), math.log(max_aspect)
    )
    ratio = tf.exp(log_ratio)
    box_h = tf.cast(tf.round(tf.sqrt(target_area * ratio)), tf.int32)
    box_w = tf.cast(tf.round(tf.sqrt(target_area / ratio)), tf.int32)
    fits = (box_w < width) & (box_h < height)
    first = tf.argmax(tf.cast(fits, tf.int32), output_type=tf.int32)
    h, w = box_h[first], box_w[first]
    top = tf.random.stateless_uniform([], fold(seed, 3), 0, tf.maximum(height - h, 0) + 1, tf.int32)
    left = tf.random.stateless_uniform([], fold(seed, 4), 0, tf.maximum(width - w, 0) + 1, tf.int32)
    apply = (tf.random.stateless_uniform([], fold(seed, 0)) < probability) & tf.reduce_any(fits)

    def erase():
        rows = tf.range(height)[:, None, None]
        cols = tf.range(width)[None, :, None]
        inside = (rows >= top) & (rows < top + h) & (cols >= left) & (cols < left + w)
        noise = tf.random.stateless_normal(shape, fold(seed, 5))
        noise = (noise * tf.constant(IMAGENET_STD) + tf.constant(IMAGENET_MEAN)) * 255.0
        return tf.where(inside, noise, image)

    return tf.cond(apply, erase, lambda: image)
