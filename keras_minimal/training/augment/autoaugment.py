"""timm AutoAugment (timm.data.auto_augment.auto_augment_transform) on one float32 [0, 255]
HWC image inside tf.data, stateless.

Per image: one sub-policy drawn uniformly, then each of its two operations applied with
its probability. Magnitudes map to arguments as timm's *_level_to_arg functions do
(level / 10 scaled to the op's range; Rotate, ShearX/Y and TranslateX/YRel get a random
sign), and each operation reproduces the PIL function timm calls on a uint8 image, so the
image is rounded to integers first and stays integer-valued. Geometric operations sample
bilinearly (timm uses the pipeline's interpolation, or bilinear/bicubic at random for
"random") and fill with timm's `img_mean` as create_transform sets it: the ImageNet mean,
round(255 · mean) = (124, 116, 104). timm's magnitude noise ("original-mstd0.5") is not
supported. v0's Posterize at magnitude 2 keeps 0 bits: a black image, as the TPU code and
older Pillow give (the Pillow 13 installed here refuses bits=0).
"""

import tensorflow as tf

from keras_minimal.normalization import IMAGENET_MEAN
from keras_minimal.training.augment.pil_ops import OPS

LEVEL_DENOM = 10.0
FILL = tuple(min(255, round(255 * m)) for m in IMAGENET_MEAN)

# (operation, probability, magnitude) pairs, as in timm's auto_augment_policy_* tables.
ORIGINAL = (
    (("PosterizeOriginal", 0.4, 8), ("Rotate", 0.6, 9)),
    (("Solarize", 0.6, 5), ("AutoContrast", 0.6, 5)),
    (("Equalize", 0.8, 8), ("Equalize", 0.6, 3)),
    (("PosterizeOriginal", 0.6, 7), ("PosterizeOriginal", 0.6, 6)),
    (("Equalize", 0.4, 7), ("Solarize", 0.2, 4)),
    (("Equalize", 0.4, 4), ("Rotate", 0.8, 8)),
    (("Solarize", 0.6, 3), ("Equalize", 0.6, 7)),
    (("PosterizeOriginal", 0.8, 5), ("Equalize", 1.0, 2)),
    (("Rotate", 0.2, 3), ("Solarize", 0.6, 8)),
    (("Equalize", 0.6, 8), ("PosterizeOriginal", 0.4, 6)),
    (("Rotate", 0.8, 8), ("Color", 0.4, 0)),
    (("Rotate", 0.4, 9), ("Equalize", 0.6, 2)),
    (("Equalize", 0.0, 7), ("Equalize", 0.8, 8)),
    (("Invert", 0.6, 4), ("Equalize", 1.0, 8)),
    (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
    (("Rotate", 0.8, 8), ("Color", 1.0, 2)),
    (("Color", 0.8, 8), ("Solarize", 0.8, 7)),
    (("Sharpness", 0.4, 7), ("Invert", 0.6, 8)),
    (("ShearX", 0.6, 5), ("Equalize", 1.0, 9)),
    (("Color", 0.4, 0), ("Equalize", 0.6, 3)),
    (("Equalize", 0.4, 7), ("Solarize", 0.2, 4)),
    (("Solarize", 0.6, 5), ("AutoContrast", 0.6, 5)),
    (("Invert", 0.6, 4), ("Equalize", 1.0, 8)),
    (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
    (("Equalize", 0.8, 8), ("Equalize", 0.6, 3)),
)
V0 = (
    (("Equalize", 0.8, 1), ("ShearY", 0.8, 4)),
    (("Color", 0.4, 9), ("Equalize", 0.6, 3)),
    (("Color", 0.4, 1), ("Rotate", 0.6, 8)),
    (("Solarize", 0.8, 3), ("Equalize", 0.4, 7)),
    (("Solarize", 0.4, 2), ("Solarize", 0.6, 2)),
    (("Color", 0.2, 0), ("Equalize", 0.8, 8)),
    (("Equalize", 0.4, 8), ("SolarizeAdd", 0.8, 3)),
    (("ShearX", 0.2, 9), ("Rotate", 0.6, 8)),
    (("Color", 0.6, 1), ("Equalize", 1.0, 2)),
    (("Invert", 0.4, 9), ("Rotate", 0.6, 0)),
    (("Equalize", 1.0, 9), ("ShearY", 0.6, 3)),
    (("Color", 0.4, 7), ("Equalize", 0.6, 0)),
    (("Posterize", 0.4, 6), ("AutoContrast", 0.4, 7)),
    (("Solarize", 0.6, 8), ("Color", 0.6, 9)),
    (("Solarize", 0.2, 4), ("Rotate", 0.8, 9)),
    (("Rotate", 1.0, 7), ("TranslateYRel", 0.8, 9)),
    (("ShearX", 0.0, 0), ("Solarize", 0.8, 4)),
    (("ShearY", 0.8, 0), ("Color", 0.6, 4)),
    (("Color", 1.0, 0), ("Rotate", 0.6, 2)),
    (("Equalize", 0.8, 4), ("Equalize", 0.0, 8)),
    (("Equalize", 1.0, 4), ("AutoContrast", 0.6, 2)),
    (("ShearY", 0.4, 7), ("SolarizeAdd", 0.6, 7)),
    (("Posterize", 0.8, 2), ("Solarize", 0.6, 10)),
    (("Solarize", 0.6, 8), ("Equalize", 0.6, 1)),
    (("Color", 0.8, 6), ("Rotate", 0.4, 5)),
)


def _research_posterize(policy):
    """timm's "...r" variants: the same table with PosterizeIncreasing for Posterize*."""
    return tuple(
        tuple(
            ("PosterizeIncreasing" if op.startswith("Posterize") else op, p, m) for op, p, m in sp
        )
        for sp in policy
    )


POLICIES = {
    "original": ORIGINAL,
    "originalr": _research_posterize(ORIGINAL),
    "v0": V0,
    "v0r": _research_posterize(V0),
}

# timm's *_level_to_arg for level = magnitude / LEVEL_DENOM (int() truncates, as in timm).
LEVEL_TO_ARG = {
    "AutoContrast": lambda level: 0.0,
    "Equalize": lambda level: 0.0,
    "Invert": lambda level: 0.0,
    "Rotate": lambda level: level * 30.0,
    "Posterize": lambda level: int(level * 4),
    "PosterizeIncreasing": lambda level: 4 - int(level * 4),
    "PosterizeOriginal": lambda level: int(level * 4) + 4,
    "Solarize": lambda level: min(256, int(level * 256)),
    "SolarizeAdd": lambda level: min(128, int(level * 110)),
    "Color": lambda level: level * 1.8 + 0.1,
    "Contrast": lambda level: level * 1.8 + 0.1,
    "Sharpness": lambda level: level * 1.8 + 0.1,
    "ShearX": lambda level: level * 0.3,
    "ShearY": lambda level: level * 0.3,
    "TranslateXRel": lambda level: level * 0.45,
    "TranslateYRel": lambda level: level * 0.45,
}
SIGNED = {"Rotate", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel"}


def parse_autoaugment(policy):
    """The policy name of a timm AutoAugment string ("original", "originalr", "v0", "v0r")."""
    name, *sections = policy.split("-") if isinstance(policy, str) else [None]
    if name not in POLICIES:
        raise ValueError(
            f"An AutoAugment policy is one of timm's names {', '.join(map(repr, POLICIES))}. "
            f"Received: {policy!r}"
        )
    if sections:
        raise ValueError(
            f"AutoAugment options {sections} are not supported (timm's magnitude noise "
            f"'mstd' is not implemented); pass the bare policy name {name!r}. "
            f"Received: {policy!r}"
        )
    return name


def is_autoaugment(policy):
    return isinstance(policy, str) and policy.split("-")[0] in POLICIES


def policy_arguments(policy):
    """Per sub-policy and slot: (operation, probability, argument before the random sign)."""
    return [
        [(op, p, LEVEL_TO_ARG[op](m / LEVEL_DENOM)) for op, p, m in sub_policy]
        for sub_policy in POLICIES[parse_autoaugment(policy)]
    ]


def _maybe_apply(image, apply, op, arg, names, fill):
    """Operation names[op] with `arg` if `apply`, else the image."""
    branches = [lambda fn=OPS[name]: fn(image, arg, fill) for name in names]
    return tf.cond(apply, lambda: tf.switch_case(op, branches), lambda: image)


def auto_augment(image, seed, policy="original", fill=FILL):
    """Apply a timm AutoAugment policy to one float32 [0, 255] HWC image."""
    table = policy_arguments(policy)
    names = sorted({op for sub_policy in table for op, _, _ in sub_policy})
    ops = tf.constant([[names.index(op) for op, _, _ in sp] for sp in table], tf.int32)
    probs = tf.constant([[p for _, p, _ in sp] for sp in table], tf.float32)
    args = tf.constant([[arg for _, _, arg in sp] for sp in table], tf.float64)
    signed = tf.constant([name in SIGNED for name in names])
    fold = tf.random.experimental.stateless_fold_in

    image = tf.clip_by_value(tf.round(image), 0.0, 255.0)  # timm works on uint8 images
    row = tf.random.stateless_uniform([], fold(seed, 0), 0, len(table), tf.int32)
    for slot in range(2):
        slot_seed = fold(seed, slot + 1)
        op, arg = ops[row, slot], args[row, slot]
        apply = tf.random.stateless_uniform([], fold(slot_seed, 0)) < probs[row, slot]
        negate = signed[op] & (tf.random.stateless_uniform([], fold(slot_seed, 1)) < 0.5)
        image = _maybe_apply(image, apply, op, tf.where(negate, -arg, arg), names, fill)
    return image
