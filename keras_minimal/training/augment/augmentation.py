"""The training augmentation of a recipe, in timm's order: (crop, flip in the pipeline) →
RandAugment, AutoAugment or colour jitter → random erasing → batch: MixUp/CutMix + smoothed
one-hot."""

import tensorflow as tf

from keras_minimal.training.augment.autoaugment import (
    POLICIES,
    auto_augment,
    is_autoaugment,
    parse_autoaugment,
)
from keras_minimal.training.augment.color_jitter import color_jitter
from keras_minimal.training.augment.mixing import MIX_MODES, mix_batch, smoothed_one_hot
from keras_minimal.training.augment.policy import is_randaugment
from keras_minimal.training.augment.randaugment import RandAugment
from keras_minimal.training.augment.random_erasing import random_erasing


class Augmentation:
    """Per-image and per-batch augmentation for data.make_dataset(augmentation=...).

    Targets leave the batch step as float32 (batch, num_classes): one-hot with label
    smoothing, mixed by MixUp/CutMix. Smoothing in the targets equals timm's
    LabelSmoothingCrossEntropy and its BinaryCrossEntropy(smoothing) on class indices,
    so the losses never smooth again.

    Args:
        num_classes: width of the targets.
        randaugment: timm's `auto_augment` string or None: a RandAugment policy
            ("rand-m9-mstd0.5-inc1", see RandAugment) or an AutoAugment policy name
            ("original", "originalr", "v0", "v0r", see autoaugment.py).
        randaugment_backend: "keras_cv" (default when installed) or "keras"; RandAugment only.
        color_jitter: strength, used only without Rand/AutoAugment (as timm does).
        random_erasing: probability of erasing a box.
        mixup_alpha, cutmix_alpha, mixup_prob, switch_prob: timm Mixup arguments.
        mix_mode: "batch" (timm: one λ and one of MixUp/CutMix per batch) or "half"
            (DeepMind's NFNet: MixUp on half of each batch, CutMix on the other half, a λ
            per example; needs both alphas).
        label_smoothing: in the targets.
    """

    needs_batches = True

    def __init__(
        self,
        num_classes,
        randaugment=None,
        randaugment_backend=None,
        color_jitter=None,
        random_erasing=0.0,
        mixup_alpha=0.0,
        cutmix_alpha=0.0,
        mixup_prob=1.0,
        switch_prob=0.5,
        label_smoothing=0.0,
        mix_mode="batch",
    ):
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive integer. Received: {num_classes!r}")
        for name, value in (
            ("random_erasing", random_erasing),
            ("mixup_prob", mixup_prob),
            ("switch_prob", switch_prob),
            ("label_smoothing", label_smoothing),
        ):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1]. Received: {name}={value!r}")
        if mixup_alpha < 0 or cutmix_alpha < 0:
            raise ValueError(
                f"Mixing alphas must be ≥ 0. Received: mixup_alpha={mixup_alpha}, "
                f"cutmix_alpha={cutmix_alpha}"
            )
        if mix_mode not in MIX_MODES:
            raise ValueError(
                f"mix_mode must be one of {MIX_MODES}. Received: mix_mode={mix_mode!r}"
            )
        if mix_mode == "half" and not (mixup_alpha > 0 and cutmix_alpha > 0):
            raise ValueError(
                'mix_mode="half" applies MixUp and CutMix to a half of each batch each and '
                "needs both alphas > 0. Received: "
                f"mixup_alpha={mixup_alpha}, cutmix_alpha={cutmix_alpha}"
            )
        self.num_classes = num_classes
        self.mix_mode = mix_mode
        self.randaugment = self.autoaugment = None
        if randaugment and is_randaugment(randaugment):
            self.randaugment = RandAugment(randaugment, randaugment_backend)
        elif randaugment and is_autoaugment(randaugment):
            self.autoaugment = parse_autoaugment(randaugment)
        elif randaugment:
            raise ValueError(
                "randaugment must be a timm RandAugment string such as 'rand-m9-mstd0.5-inc1' "
                f"or a timm AutoAugment policy name ({', '.join(map(repr, POLICIES))}), or "
                f"None. Received: randaugment={randaugment!r}"
            )
        self.color_jitter = color_jitter if not randaugment else None
        self.random_erasing = random_erasing
        self.mixup_alpha, self.cutmix_alpha = mixup_alpha, cutmix_alpha
        self.mixup_prob, self.switch_prob = mixup_prob, switch_prob
        self.label_smoothing = label_smoothing

    @classmethod
    def from_recipe(cls, recipe, num_classes, randaugment_backend=None):
        return cls(
            num_classes,
            randaugment=recipe.randaugment,
            randaugment_backend=randaugment_backend,
            color_jitter=recipe.color_jitter,
            random_erasing=recipe.random_erasing,
            mixup_alpha=recipe.mixup_alpha,
            cutmix_alpha=recipe.cutmix_alpha,
            mixup_prob=recipe.mixup_prob,
            switch_prob=recipe.mixup_switch_prob,
            label_smoothing=recipe.label_smoothing,
            mix_mode=recipe.mix_mode,
        )

    @property
    def mixes(self):
        return (self.mixup_alpha > 0 or self.cutmix_alpha > 0) and self.mixup_prob > 0

    def image(self, image, seed):
        fold = tf.random.experimental.stateless_fold_in
        if self.randaugment is not None:
            image = self.randaugment(image)
        elif self.autoaugment is not None:
            image = auto_augment(image, fold(seed, 0), self.autoaugment)
        elif self.color_jitter:
            image = color_jitter(image, fold(seed, 0), self.color_jitter)
        if self.random_erasing:
            image = random_erasing(image, fold(seed, 1), self.random_erasing)
        return image

    def batch(self, images, labels, seed):
        if not self.mixes:
            return images, smoothed_one_hot(labels, self.num_classes, self.label_smoothing)
        return mix_batch(
            images,
            labels,
            seed,
            self.num_classes,
            mixup_alpha=self.mixup_alpha,
            cutmix_alpha=self.cutmix_alpha,
            prob=self.mixup_prob,
            switch_prob=self.switch_prob,
            label_smoothing=self.label_smoothing,
            mode=self.mix_mode,
        )

    def eval_targets(self, images, labels):
        """Validation batches in the same target format (one-hot, no smoothing)."""
        return images, tf.one_hot(labels, self.num_classes)
