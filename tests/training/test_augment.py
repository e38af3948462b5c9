import numpy as np
import pytest
import tensorflow as tf

from keras_minimal.training import data
from keras_minimal.training.augment import (
    Augmentation,
    RandAugment,
    mix_batch,
    parse_randaugment,
    random_erasing,
)
from tests.training.synthetic import write_image_folder


def test_timm_policy_strings():
    policy = parse_randaugment("rand-m9-mstd0.5-inc1")
    assert (policy.magnitude, policy.magnitude_std, policy.increasing) == (9, 0.5, True)
    assert (policy.num_layers, policy.probability, policy.magnitude_max) == (2, 0.5, 10)
    assert parse_randaugment("rand-n3-m7-mmax20-p0.8").fraction == pytest.approx(0.35)
    assert parse_randaugment("rand-m15-n4").fraction == 1.0  # timm clips m to mmax
    with pytest.raises(ValueError, match="timm string such as 'rand-m9-mstd0.5-inc1'"):
        parse_randaugment("autoaug-m9")
    with pytest.raises(ValueError, match="Unknown RandAugment key 'w0'"):
        parse_randaugment("rand-m9-w0")


@pytest.mark.parametrize("backend", ["keras_cv", "keras"])
def test_randaugment_adapter_maps_the_policy_and_runs_in_tf_data(backend):
    if backend == "keras_cv":
        pytest.importorskip("keras_cv")
    augment = RandAugment("rand-n3-m9-mstd0.5-inc1", backend=backend)
    if backend == "keras_cv":
        assert augment.layer.augmentations_per_image == 3
    else:
        assert augment.layer.num_ops == 3
    images = tf.data.Dataset.from_tensors(tf.random.uniform((32, 32, 3), 0, 255)).repeat(4)
    out = list(images.map(augment).as_numpy_iterator())
    assert out[0].shape == (32, 32, 3) and np.isfinite(out[0]).all()


@pytest.mark.parametrize("backend", ["keras_cv", "keras"])
def test_randaugment_runs_inside_the_training_pipeline(tmp_path, backend):
    """The paper recipes' RandAugment through data.image_folder (each example's load runs
    inside the pipeline's failure guard, where keras-cv's layers need AutoGraph)."""
    if backend == "keras_cv":
        pytest.importorskip("keras_cv")
    root = write_image_folder(str(tmp_path), classes=2, per_class=4)
    augment = Augmentation(2, randaugment="rand-m9-mstd0.5-inc1", randaugment_backend=backend)
    stream = data.image_folder(
        root, training=True, batch_size=4, image_size=32, augmentation=augment
    )
    images, targets = next(iter(stream))
    assert images.shape == (4, 32, 32, 3) and np.isfinite(images.numpy()).all()
    assert targets.shape == (4, 2)


def _batch(n=6, size=8):
    values = np.arange(n, dtype="float32")[:, None, None, None] * 10.0
    return tf.constant(np.broadcast_to(values, (n, size, size, 3)).copy()), tf.range(n)


def test_mixup_blends_with_the_reversed_batch_and_mixes_targets_alike():
    images, labels = _batch()
    mixed, targets = mix_batch(images, labels, tf.constant([1, 2]), 6, mixup_alpha=0.8)
    lam = float(targets[0, 0])
    assert 0 < lam < 1
    np.testing.assert_allclose(targets[0, 5], 1 - lam, rtol=1e-6)
    expected = images.numpy() * lam + images.numpy()[::-1] * (1 - lam)
    np.testing.assert_allclose(mixed.numpy(), expected, rtol=1e-5)


def test_cutmix_pastes_a_box_and_corrects_lambda_to_its_area():
    images, labels = _batch(size=16)
    for seed in range(5):
        mixed, targets = mix_batch(images, labels, tf.constant([seed, 9]), 6, cutmix_alpha=1.0)
        lam = float(targets[0, 0])
        pasted = np.mean(mixed.numpy()[0, :, :, 0] == images.numpy()[5, 0, 0, 0])
        np.testing.assert_allclose(pasted, 1 - lam, atol=1e-6)


def test_switch_probability_and_label_smoothing():
    images, labels = _batch()
    kinds = []
    for seed in range(40):
        mixed, targets = mix_batch(
            images,
            labels,
            tf.constant([seed, 0]),
            6,
            mixup_alpha=0.8,
            cutmix_alpha=1.0,
            label_smoothing=0.1,
        )
        np.testing.assert_allclose(targets.numpy().sum(1), 1.0, rtol=1e-5)
        assert targets.numpy().min() >= 0.1 / 6 - 1e-6
        # CutMix leaves pixels equal to one of the two sources; MixUp blends them all.
        blended = not np.isin(mixed.numpy()[0], [0.0, 50.0]).all()
        kinds.append(blended)
    assert 8 < sum(kinds) < 32  # switch_prob 0.5 between the two


def test_half_mode_mixes_up_the_first_half_and_cuts_the_second_with_a_lambda_each():
    n, size = 8, 16
    images, labels = _batch(n, size)
    x = images.numpy()
    mixed, targets = mix_batch(
        images, labels, tf.constant([3, 4]), n, mixup_alpha=0.2, cutmix_alpha=1.0, mode="half"
    )
    mixed, targets = mixed.numpy(), targets.numpy()
    lams = targets[np.arange(n), np.arange(n)]
    np.testing.assert_allclose(targets[np.arange(n), np.arange(n)[::-1]], 1 - lams, rtol=1e-5)
    for i in range(n // 2):  # MixUp: a blend with the reversed batch, weight λ_i
        np.testing.assert_allclose(mixed[i], lams[i] * x[i] + (1 - lams[i]) * x[n - 1 - i], 1e-5)
    for i in range(n // 2, n):  # CutMix: a box of the partner covering 1 − λ_i of the image
        from_partner = mixed[i, :, :, 0] == x[n - 1 - i, 0, 0, 0]
        assert np.isin(mixed[i], [x[i, 0, 0, 0], x[n - 1 - i, 0, 0, 0]]).all()
        np.testing.assert_allclose(from_partner.mean(), 1 - lams[i], atol=1e-6)
    assert len(np.unique(np.round(lams, 6))) == n  # a λ per example, not per batch


def test_nfnet_recipe_mixes_halves_and_half_mode_needs_both_alphas():
    from keras_minimal.training.recipes import get_recipe

    assert Augmentation.from_recipe(get_recipe("nfnet_f0"), 10, "keras").mix_mode == "half"
    with pytest.raises(ValueError, match='mix_mode="half" .* needs both alphas'):
        Augmentation(10, mixup_alpha=0.2, mix_mode="half")
    with pytest.raises(ValueError, match="mix_mode must be one of"):
        Augmentation(10, mixup_alpha=0.2, mix_mode="elem")


def test_no_mixing_when_prob_is_zero():
    images, labels = _batch()
    mixed, targets = mix_batch(images, labels, tf.constant([0, 0]), 6, mixup_alpha=1.0, prob=0.0)
    np.testing.assert_array_equal(mixed, images)
    np.testing.assert_array_equal(targets, tf.one_hot(labels, 6))


def test_random_erasing_replaces_one_box_within_the_area_range():
    image = tf.fill((40, 40, 3), 7.0)
    areas = []
    for seed in range(30):
        out = random_erasing(image, tf.constant([seed, 1]), probability=1.0).numpy()
        erased = (out != 7.0).any(-1)
        rows, cols = np.where(erased)
        box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        assert box == erased.sum()  # one filled rectangle
        areas.append(box / 1600)
    assert min(areas) >= 0.02 - 0.01 and max(areas) <= 1 / 3 + 0.03
    unchanged = random_erasing(image, tf.constant([0, 1]), probability=0.0)
    np.testing.assert_array_equal(unchanged, image)


def test_augmentation_from_recipe_and_bad_arguments():
    from keras_minimal.training.recipes import get_recipe

    augmentation = Augmentation.from_recipe(get_recipe("vanillanet_5"), 10, "keras")
    assert augmentation.mixes and augmentation.random_erasing == 0.25
    assert augmentation.color_jitter is None  # timm ignores it with RandAugment
    with pytest.raises(ValueError, match="switch_prob must lie in"):
        Augmentation(10, switch_prob=2.0)


def test_color_jitter_is_torchvisions_clamping_after_each_operation():
    import importlib

    # The package exports the function under the module's name.
    jitter = importlib.import_module("keras_minimal.training.augment.color_jitter")

    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (6, 5, 3)).astype("float32")
    weights = np.array([0.2989, 0.587, 0.114], "float32")

    def blend(x, other, factor):
        return np.clip(factor * x + (1 - factor) * other, 0, 255)

    def reference(x, factors, order):
        for index in order:
            gray = (x * weights).sum(-1, keepdims=True)
            other = (np.zeros_like(x), gray.mean(), gray)[index]
            x = blend(x, other, factors[index])
        return x

    factors = (1.6, 0.5, 1.4)  # brightness first saturates: the clamp before contrast matters
    for order in ((0, 1, 2), (2, 1, 0)):
        out = jitter.adjust_colors(tf.constant(image), factors, order).numpy()
        np.testing.assert_allclose(out, reference(image, factors, order), atol=1e-3)
    seed = tf.constant([3, 4])
    drawn, index = jitter.jitter_draws(seed, 0.4)
    drawn = [float(f) for f in drawn]
    assert all(0.6 <= f <= 1.4 for f in drawn)
    np.testing.assert_allclose(
        jitter.color_jitter(tf.constant(image), seed, 0.4).numpy(),
        reference(image, drawn, jitter.ORDERS[int(index)]),
        atol=1e-3,
    )
    orders = {int(jitter.jitter_draws(tf.constant([s, 0]), 0.4)[1]) for s in range(60)}
    assert orders == set(range(6))  # every order of the three operations occurs
