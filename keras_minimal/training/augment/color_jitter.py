"""Colour jitter (brightness, contrast, saturation), as timm applies it when there is no
RandAugment; stateless, on float32 [0, 255] images. timm (torchvision) applies the three
in a random order; here the order is fixed."""

import tensorflow as tf


def color_jitter(image, seed, strength):
    fold = tf.random.experimental.stateless_fold_in
    low, high = max(0.0, 1.0 - strength), 1.0 + strength
    brightness = tf.random.stateless_uniform([], fold(seed, 0), low, high)
    image = image * brightness
    contrast = tf.random.stateless_uniform([], fold(seed, 1), low, high)
    gray_mean = tf.reduce_mean(tf.image.rgb_to_grayscale(image))
    image = (image - gray_mean) * contrast + gray_mean
    saturation = tf.random.stateless_uniform([], fold(seed, 2), low, high)
    gray = tf.image.rgb_to_grayscale(image)
    image = (image - gray) * saturation + gray
    return tf.clip_by_value(image, 0.0, 255.0)
