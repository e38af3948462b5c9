import numpy as np
import pytest
import tensorflow as tf

from keras_minimal.deploy.calibration import calibration_images


def test_image_folder_goes_through_eval_preprocessing(tmp_path):
    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        for i in range(3):
            pixels = rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)
            (tmp_path / label / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    images = calibration_images(str(tmp_path), image_size=32, limit=5)
    assert images.shape == (5, 32, 32, 3) and images.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 255 and images.std() > 10


def test_digits_npy_and_bad_sources(tmp_path):
    assert calibration_images("digits", 16, limit=7).shape == (7, 16, 16, 3)
    np.save(tmp_path / "x.npy", np.ones((9, 8, 8, 3), "float64"))
    assert calibration_images(str(tmp_path / "x.npy"), 8, limit=4).dtype == np.float32
    with pytest.raises(ValueError, match="Representative data must be 'digits'"):
        calibration_images(str(tmp_path / "nothing-*.tfrecord"), 8)


def test_normalized_images_are_what_a_model_without_preprocessing_takes():
    from keras_minimal.applications.backbone import IMAGENET_MEAN, IMAGENET_STD

    rgb = calibration_images("digits", 16, limit=3)
    normalized = calibration_images("digits", 16, limit=3, normalize=True)
    expected = (rgb / 255.0 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    np.testing.assert_allclose(normalized, expected, rtol=1e-5, atol=1e-6)
    assert rgb.max() > 200 and normalized.max() < 3
