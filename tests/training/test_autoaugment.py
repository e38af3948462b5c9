"""AutoAugment against timm's tables and against the PIL operations timm applies.

Tolerance: the colour and histogram operations reproduce PIL's integer arithmetic and
truncation, so they must match exactly. The geometric ones are computed in float64 as PIL
does; a different libm may move a sample across an integer boundary, so they may differ by
1 on at most 1 % of the values (on this machine they match exactly).
"""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageEnhance, ImageOps

from keras_minimal.training.augment import Augmentation, auto_augment, parse_autoaugment, pil_ops
from keras_minimal.training.augment import autoaugment as aa

# timm/data/auto_augment.py, auto_augment_policy_original (huggingface/pytorch-image-models).
TIMM_ORIGINAL = (
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

# (operation, magnitude) → argument by timm's *_level_to_arg (before the random sign).
TIMM_ARGUMENTS = {
    ("PosterizeOriginal", 8): 7,
    ("PosterizeOriginal", 7): 6,
    ("PosterizeOriginal", 6): 6,
    ("PosterizeOriginal", 5): 6,
    ("PosterizeIncreasing", 8): 1,
    ("PosterizeIncreasing", 5): 2,
    ("Posterize", 6): 2,
    ("Posterize", 2): 0,
    ("Rotate", 9): 27.0,
    ("Rotate", 3): 9.0,
    ("Solarize", 5): 128,
    ("Solarize", 4): 102,
    ("Solarize", 3): 76,
    ("Solarize", 7): 179,
    ("Solarize", 8): 204,
    ("SolarizeAdd", 7): 77,
    ("Color", 0): 0.1,
    ("Color", 4): 0.82,
    ("Contrast", 8): 1.54,
    ("Sharpness", 7): 1.36,
    ("ShearX", 5): 0.15,
    ("TranslateYRel", 9): 0.405,
}


def test_policy_tables_are_timms():
    assert aa.POLICIES["original"] == TIMM_ORIGINAL
    assert len(aa.POLICIES["v0"]) == 25
    assert aa.POLICIES["v0"][15] == (("Rotate", 1.0, 7), ("TranslateYRel", 0.8, 9))
    research = aa.POLICIES["originalr"][3]
    assert research == (("PosterizeIncreasing", 0.6, 7), ("PosterizeIncreasing", 0.6, 6))
    assert aa.SIGNED == {"Rotate", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel"}
    assert aa.FILL == (124, 116, 104)  # timm create_transform: round(255 * IMAGENET_MEAN)


@pytest.mark.parametrize(("op", "magnitude"), list(TIMM_ARGUMENTS))
def test_magnitude_to_argument_is_timms(op, magnitude):
    argument = aa.LEVEL_TO_ARG[op](magnitude / aa.LEVEL_DENOM)
    assert argument == pytest.approx(TIMM_ARGUMENTS[op, magnitude], abs=1e-12)
    assert isinstance(argument, int) == isinstance(TIMM_ARGUMENTS[op, magnitude], int)


def _image():
    rng = np.random.default_rng(0)
    # ≥ 255 pixels per channel: PIL's equalize leaves smaller images unchanged.
    image = rng.integers(20, 230, (24, 40, 3), dtype=np.uint8)
    image[..., 1] = image[..., 1] // 2 + 60  # channels with different ranges
    return image


def _affine(matrix):
    return lambda im: im.transform(im.size, Image.AFFINE, matrix, Image.BILINEAR, fillcolor=aa.FILL)


PIXEL_OPS = [
    ("auto_contrast", None, ImageOps.autocontrast),
    ("equalize", None, ImageOps.equalize),
    ("invert", None, ImageOps.invert),
    ("posterize", 6, lambda im: ImageOps.posterize(im, 6)),
    ("posterize", 4, lambda im: ImageOps.posterize(im, 4)),
    ("solarize", 102, lambda im: ImageOps.solarize(im, 102)),
    ("solarize", 204, lambda im: ImageOps.solarize(im, 204)),
    ("color", 0.1, lambda im: ImageEnhance.Color(im).enhance(0.1)),
    ("color", 1.54, lambda im: ImageEnhance.Color(im).enhance(1.54)),
    ("contrast", 0.82, lambda im: ImageEnhance.Contrast(im).enhance(0.82)),
    ("contrast", 1.54, lambda im: ImageEnhance.Contrast(im).enhance(1.54)),
    ("sharpness", 1.36, lambda im: ImageEnhance.Sharpness(im).enhance(1.36)),
    ("sharpness", 0.1, lambda im: ImageEnhance.Sharpness(im).enhance(0.1)),
]
GEOMETRIC_OPS = [
    ("rotate", 27.0, lambda im: im.rotate(27.0, Image.BILINEAR, fillcolor=aa.FILL)),
    ("rotate", -24.0, lambda im: im.rotate(-24.0, Image.BILINEAR, fillcolor=aa.FILL)),
    ("shear_x", 0.15, _affine((1, 0.15, 0, 0, 1, 0))),
    ("shear_x", -0.27, _affine((1, -0.27, 0, 0, 1, 0))),
    ("shear_y", 0.12, _affine((1, 0, 0, 0.12, 1, 0))),
    ("translate_y_rel", -0.405, _affine((1, 0, 0, 0, 1, -0.405 * 24))),
]


@pytest.mark.parametrize(("name", "arg", "reference"), PIXEL_OPS)
def test_pixel_operations_match_pil_exactly(name, arg, reference):
    image = _image()
    ours = getattr(pil_ops, name)(tf.constant(image, tf.float32), arg, aa.FILL)
    np.testing.assert_array_equal(ours.numpy(), np.asarray(reference(Image.fromarray(image))))


@pytest.mark.parametrize(("name", "arg", "reference"), GEOMETRIC_OPS)
def test_geometric_operations_match_pil(name, arg, reference):
    image = _image()
    ours = getattr(pil_ops, name)(tf.constant(image, tf.float32), arg, aa.FILL).numpy()
    difference = np.abs(ours - np.asarray(reference(Image.fromarray(image)), np.float32))
    assert difference.max() <= 1 and (difference > 0).mean() <= 0.01


def test_equalize_clips_its_table_like_pil():
    image = np.zeros((16, 32, 3), np.uint8)
    image[0, 0] = 255  # PIL's table gives 256 for this pixel, stored as 255
    ours = pil_ops.equalize(tf.constant(image, tf.float32))
    np.testing.assert_array_equal(
        ours.numpy(), np.asarray(ImageOps.equalize(Image.fromarray(image)))
    )


def _augment_many(seeds, policy="original"):
    image = tf.constant(_image(), tf.float32)
    seeds = tf.data.Dataset.from_tensor_slices(tf.constant(seeds, tf.int64))
    outputs = seeds.map(lambda s: auto_augment(image, tf.stack([s, 3]), policy))
    return np.stack(list(outputs.as_numpy_iterator()))


def test_stateless_same_seed_same_image_and_probabilities_as_the_table():
    first, again = _augment_many(range(48)), _augment_many(range(48))
    np.testing.assert_array_equal(first, again)
    assert set(np.unique(first)) <= set(range(256))  # integer-valued, as timm's uint8
    unchanged = (first == _image()).all(axis=(1, 2, 3)).mean()
    # P(neither operation applied), averaged over the uniformly drawn sub-policies.
    expected = np.mean([(1 - p1) * (1 - p2) for (_, p1, _), (_, p2, _) in TIMM_ORIGINAL])
    assert abs(unchanged - expected) < 0.2
    assert len({out.tobytes() for out in first}) > 10


def test_rotation_sign_is_drawn_per_image():
    # Sub-policies 5 and 10 rotate by 24 degrees alone with probability ~0.5: both signs
    # must turn up among 200 images.
    outputs = _augment_many(range(200))
    image = tf.constant(_image(), tf.float32)
    for degrees in (24.0, -24.0):
        rotated = pil_ops.rotate(image, degrees, aa.FILL).numpy()
        assert (outputs == rotated).all(axis=(1, 2, 3)).any(), degrees


def test_every_policy_runs_in_tf_data():
    for policy in aa.POLICIES:
        out = _augment_many(range(4), policy)
        assert out.shape == (4, 24, 40, 3) and out.min() >= 0 and out.max() <= 255


def test_pplcnet_x2_5_recipe_augments_a_batch():
    from keras_minimal.training.data import ArraySource, make_dataset
    from keras_minimal.training.recipes import get_recipe

    augmentation = Augmentation.from_recipe(get_recipe("pplcnet_x2_5"), 10)
    assert augmentation.autoaugment == "original" and augmentation.randaugment is None
    rng = np.random.default_rng(1)
    source = ArraySource(rng.integers(0, 256, (8, 24, 24, 3), np.uint8), np.arange(8) % 10, 10)

    def first_batch():
        dataset = make_dataset(
            source, training=True, batch_size=4, image_size=16, augmentation=augmentation
        )
        return next(iter(dataset))

    (images, targets), (images_again, _) = first_batch(), first_batch()
    assert images.shape == (4, 16, 16, 3) and targets.shape == (4, 10)
    np.testing.assert_array_equal(images, images_again)
    np.testing.assert_allclose(targets.numpy().sum(1), 1.0, rtol=1e-6)


def test_unknown_policy_strings_are_refused_clearly():
    with pytest.raises(ValueError, match=r"'rand-m9-mstd0\.5-inc1' or a timm AutoAugment"):
        Augmentation(10, randaugment="autoaug-m9")
    with pytest.raises(ValueError, match="'original', 'originalr', 'v0', 'v0r'"):
        Augmentation(10, randaugment="imagenet")
    with pytest.raises(ValueError, match="'mstd' is not implemented"):
        parse_autoaugment("original-mstd0.5")
    assert Augmentation(10, randaugment="v0r").autoaugment == "v0r"
