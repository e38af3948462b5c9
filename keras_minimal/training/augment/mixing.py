"""MixUp and CutMix with timm's semantics (timm.data.Mixup, mode="batch"), stateless.

Per batch: with probability `prob` mix; if both alphas are set, CutMix with probability
`switch_prob`, else MixUp; λ ~ Beta(α, α). Each image is mixed with the batch in reverse
order (x.flip(0)); CutMix pastes a box of area ≈ (1 − λ) and corrects λ to the pasted
area. Targets: one-hot with label smoothing (off = s/C, on = 1 − s + off), mixed with λ.
"""

import tensorflow as tf


def smoothed_one_hot(labels, num_classes, smoothing=0.0):
    off = smoothing / num_classes
    return tf.one_hot(labels, num_classes, on_value=1.0 - smoothing + off, off_value=off)


def sample_beta(seed, alpha):
    """λ ~ Beta(alpha, alpha) from two stateless Gamma draws."""
    a = tf.random.stateless_gamma([], tf.random.experimental.stateless_fold_in(seed, 0), alpha)
    b = tf.random.stateless_gamma([], tf.random.experimental.stateless_fold_in(seed, 1), alpha)
    return a / (a + b)


def cutmix_box(height, width, lam, seed):
    """timm rand_bbox: a box of side √(1 − λ)·size centred uniformly (clipped at the border).
    Returns (top, bottom, left, right) and the corrected λ = 1 − box area / image area."""
    ratio = tf.sqrt(1.0 - lam)
    cut_h = tf.cast(tf.cast(height, tf.float32) * ratio, tf.int32)
    cut_w = tf.cast(tf.cast(width, tf.float32) * ratio, tf.int32)
    cy = tf.random.stateless_uniform([], seed, 0, height, dtype=tf.int32)
    cx = tf.random.stateless_uniform(
        [], tf.random.experimental.stateless_fold_in(seed, 1), 0, width, dtype=tf.int32
    )
    top = tf.clip_by_value(cy - cut_h // 2, 0, height)
    bottom = tf.clip_by_value(cy + cut_h // 2, 0, height)
    left = tf.clip_by_value(cx - cut_w // 2, 0, width)
    right = tf.clip_by_value(cx + cut_w // 2, 0, width)
    area = tf.cast((bottom - top) * (right - left), tf.float32)
    lam = 1.0 - area / tf.cast(height * width, tf.float32)
    return (top, bottom, left, right), lam


def box_mask(height, width, box):
    top, bottom, left, right = box
    rows = tf.range(height)[:, None]
    cols = tf.range(width)[None, :]
    inside = (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right)
    return inside[None, :, :, None]


def mix_batch(
    images,
    labels,
    seed,
    num_classes,
    mixup_alpha=0.0,
    cutmix_alpha=0.0,
    prob=1.0,
    switch_prob=0.5,
    label_smoothing=0.0,
):
    """(mixed images, soft targets) for a batch of NHWC images and int labels."""
    fold = tf.random.experimental.stateless_fold_in
    mix = tf.random.stateless_uniform([], fold(seed, 0)) < prob
    if mixup_alpha > 0 and cutmix_alpha > 0:
        use_cutmix = tf.random.stateless_uniform([], fold(seed, 1)) < switch_prob
        lam_cutmix = sample_beta(fold(seed, 2), cutmix_alpha)
        lam_mixup = sample_beta(fold(seed, 3), mixup_alpha)
        lam = tf.where(use_cutmix, lam_cutmix, lam_mixup)
    elif mixup_alpha > 0:
        use_cutmix = tf.constant(False)
        lam = sample_beta(fold(seed, 3), mixup_alpha)
    elif cutmix_alpha > 0:
        use_cutmix = tf.constant(True)
        lam = sample_beta(fold(seed, 2), cutmix_alpha)
    else:
        use_cutmix, lam = tf.constant(False), tf.constant(1.0)
    lam = tf.where(mix, lam, 1.0)
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    box, lam_box = cutmix_box(height, width, lam, fold(seed, 4))
    apply_cutmix = mix & use_cutmix & (lam < 1.0)

    def cutmix():
        return tf.where(box_mask(height, width, box), tf.reverse(images, axis=[0]), images)

    def mixup():
        return images * lam + tf.reverse(images, axis=[0]) * (1.0 - lam)

    # Only the branch taken touches the batch: these are the costly ops of the pipeline.
    mixed = tf.cond(
        lam >= 1.0,
        lambda: images,
        lambda: tf.cond(apply_cutmix, cutmix, mixup),
    )
    lam = tf.where(apply_cutmix, lam_box, lam)
    targets = smoothed_one_hot(labels, num_classes, label_smoothing)
    targets = targets * lam + tf.reverse(targets, axis=[0]) * (1.0 - lam)
    return mixed, targets
