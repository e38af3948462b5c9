"""Colour jitter (brightness, contrast, saturation) as timm applies it when there is no
RandAugment: torchvision's ColorJitter — the three in a random order, each factor drawn from
[max(0, 1 − strength), 1 + strength], each result clamped to the valid range. Stateless, on
float32 [0, 255] images."""

import itertools

import tensorflow as tf

ORDERS = tuple(itertools.permutations(range(3)))


def _blend(image, other, factor):
    return tf.clip_by_value(factor * image + (1.0 - factor) * other, 0.0, 255.0)


def _brightness(image, factor):
    return _blend(image, tf.zeros_like(image), factor)


def _contrast(image, factor):
    return _blend(image, tf.reduce_mean(tf.image.rgb_to_grayscale(image)), factor)


def _saturation(image, factor):
    return _blend(image, tf.image.rgb_to_grayscale(image), factor)


_OPERATIONS = (_brightness, _contrast, _saturation)


def adjust_colors(image, factors, order):
    """Brightness, contrast and saturation `factors` applied in `order` (indices 0–2)."""
    for index in order:
        image = _OPERATIONS[index](image, factors[index])
    return image


def jitter_draws(seed, strength):
    """The three factors and the index into ORDERS that `color_jitter` uses for `seed`."""
    fold = tf.random.experimental.stateless_fold_in
    low, high = max(0.0, 1.0 - strength), 1.0 + strength
    factors = [tf.random.stateless_uniform([], fold(seed, i), low, high) for i in range(3)]
    order = tf.random.stateless_uniform([], fold(seed, 3), 0, len(ORDERS), dtype=tf.int32)
    return factors, order


def color_jitter(image, seed, strength):
    factors, order = jitter_draws(seed, strength)
    branches = [lambda o=o: adjust_colors(image, factors, o) for o in ORDERS]
    return tf.switch_case(order, branches)
