"""Training augmentation: RandAugment adapter, AutoAugment, MixUp/CutMix, random erasing,
colour jitter."""

from keras_minimal.training.augment.augmentation import Augmentation
from keras_minimal.training.augment.autoaugment import auto_augment, parse_autoaugment
from keras_minimal.training.augment.color_jitter import color_jitter
from keras_minimal.training.augment.mixing import mix_batch, smoothed_one_hot
from keras_minimal.training.augment.policy import RandAugmentPolicy, parse_randaugment
from keras_minimal.training.augment.randaugment import RandAugment
from keras_minimal.training.augment.random_erasing import random_erasing

__all__ = [
    "Augmentation",
    "RandAugment",
    "RandAugmentPolicy",
    "auto_augment",
    "color_jitter",
    "mix_batch",
    "parse_autoaugment",
    "parse_randaugment",
    "random_erasing",
    "smoothed_one_hot",
]
