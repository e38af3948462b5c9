"""MixUp and CutMix, stateless, in two modes.

- "batch" (timm.data.Mixup, mode="batch"): per batch, with probability `prob` mix; if both
  alphas are set, CutMix with probability `switch_prob`, else MixUp; one λ ~ Beta(α, α)
  for the whole batch.
- "half" (DeepMind's NFNet pipeline, dataset.py my_mixup_cutmix): MixUp on the first half
  of every batch and CutMix on the second, each example with its own λ (and box).

Each image is mixed with the batch in reverse order (x.flip(0)); CutMix pastes a box of
area ≈ (1 − λ) and corrects λ to the pasted area. Targets: one-hot with label smoothing
(off = s/C, on = 1 − s + off), mixed with λ.
"""

import tensorflow as tf

MIX_MODES = ("batch", "half")


def smoothed_one_hot(labels, num_classes, smoothing=0.0):
    off = smoothing / num_classes
    return tf.one_hot(labels, num_classes, on_value=1.0 - smoothing + off, off_value=off)


def mixed_targets(labels, num_classes, smoothing, lam):
    """Smoothed one-hot targets, λ of each example's own and 1 − λ of its partner's (the
    batch in reverse order); λ a scalar or (n, 1)."""
    targets = smoothed_one_hot(labels, num_classes, smoothing)
    return targets * lam + tf.reverse(targets, axis=[0]) * (1.0 - lam)


def sample_beta(seed, alpha, shape=()):
    """λ ~ Beta(alpha, alpha) (independently for each element of `shape`) from two
    stateless Gamma draws."""
    a = tf.random.stateless_gamma(shape, tf.random.experimental.stateless_fold_in(seed, 0), alpha)
    b = tf.random.stateless_gamma(shape, tf.random.experimental.stateless_fold_in(seed, 1), alpha)
    return a / (a + b)


def cutmix_box(height, width, lam, seed):
    """timm rand_bbox: a box of side √(1 − λ)·size centred uniformly (clipped at the border);
    one box per element of `lam` (a scalar or a vector).
    Returns (top, bottom, left, right) and the corrected λ = 1 − box area / image area."""
    ratio = tf.sqrt(1.0 - lam)
    cut_h = tf.cast(tf.cast(height, tf.float32) * ratio, tf.int32)
    cut_w = tf.cast(tf.cast(width, tf.float32) * ratio, tf.int32)
    cy = tf.random.stateless_uniform(tf.shape(lam), seed, 0, height, dtype=tf.int32)
    cx = tf.random.stateless_uniform(
        tf.shape(lam), tf.random.experimental.stateless_fold_in(seed, 1), 0, width, dtype=tf.int32
    )
    top = tf.clip_by_value(cy - cut_h // 2, 0, height)
    bottom = tf.clip_by_value(cy + cut_h // 2, 0, height)
    left = tf.clip_by_value(cx - cut_w // 2, 0, width)
    right = tf.clip_by_value(cx + cut_w // 2, 0, width)
    area = tf.cast((bottom - top) * (right - left), tf.float32)
    lam = 1.0 - area / tf.cast(height * width, tf.float32)
    return (top, bottom, left, right), lam


def box_mask(height, width, box):
    """(n, H, W, 1) booleans, true inside each box (n = 1 for scalar box corners)."""
    top, bottom, left, right = (tf.reshape(edge, [-1, 1, 1]) for edge in box)
    rows = tf.range(height)[None, :, None]
    cols = tf.range(width)[None, None, :]
    inside = (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right)
    return inside[..., None]


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
    mode="batch",
):
    """(mixed images, soft targets) for a batch of NHWC images and int labels."""
    if mode == "half":
        return _mix_halves(
            images, labels, seed, num_classes, mixup_alpha, cutmix_alpha, prob, label_smoothing
        )
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
    return mixed, mixed_targets(labels, num_classes, label_smoothing, lam)


def _mix_halves(images, labels, seed, num_classes, mixup_alpha, cutmix_alpha, prob, smoothing):
    """DeepMind's NFNet mixing: MixUp (λ ~ Beta(mixup_alpha)) on the first ⌊n/2⌋ examples,
    CutMix (λ ~ Beta(cutmix_alpha), 1.0: uniform area) on the rest, one λ per example."""
    fold = tf.random.experimental.stateless_fold_in
    n, height, width = tf.shape(images)[0], tf.shape(images)[1], tf.shape(images)[2]
    mix = tf.random.stateless_uniform([], fold(seed, 0)) < prob
    lam_mixup = sample_beta(fold(seed, 3), mixup_alpha, [n])
    box, lam_cutmix = cutmix_box(
        height, width, sample_beta(fold(seed, 2), cutmix_alpha, [n]), fold(seed, 4)
    )
    is_mixup = tf.range(n) < n // 2
    lam = tf.where(mix, tf.where(is_mixup, lam_mixup, lam_cutmix), 1.0)

    def mixed():
        partners = tf.reverse(images, axis=[0])
        weight = tf.cast(lam_mixup, images.dtype)[:, None, None, None]
        blended = images * weight + partners * (1.0 - weight)
        pasted = tf.where(box_mask(height, width, box), partners, images)
        return tf.where(is_mixup[:, None, None, None], blended, pasted)

    mixed_images = tf.cond(mix, mixed, lambda: images)
    return mixed_images, mixed_targets(labels, num_classes, smoothing, lam[:, None])
