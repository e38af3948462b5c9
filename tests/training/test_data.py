import logging

import numpy as np
import pytest
import tensorflow as tf

from keras_minimal.training import data
from keras_minimal.training.data import preprocessing
from tests.training.synthetic import write_image_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_image_folder(str(tmp_path_factory.mktemp("folder")), classes=3, per_class=8)


def _labels(dataset):
    return np.concatenate([y for _, y in dataset.as_numpy_iterator()])


def test_image_folder_classes_sorted_and_eval_pass_in_order(folder):
    paths, labels, names, skipped = data.list_image_folder(folder)
    assert names == ["c0", "c1", "c2"] and not skipped
    dataset = data.image_folder(folder, training=False, batch_size=5, image_size=24)
    batches = list(dataset.as_numpy_iterator())
    assert [b[0].shape for b in batches] == [(5, 24, 24, 3)] * 4 + [(4, 24, 24, 3)]
    np.testing.assert_array_equal(_labels(dataset), np.repeat([0, 1, 2], 8))
    assert batches[0][0].dtype == np.float32 and 0 <= batches[0][0].min() <= 255


def test_training_epoch_is_a_seeded_permutation_and_resumes_at_any_step(folder):
    def stream(**kwargs):
        options = dict(training=True, batch_size=4, image_size=16, epochs=2, seed=3)
        return list(data.image_folder(folder, **options, **kwargs).as_numpy_iterator())

    full = stream()
    assert len(full) == 12  # 24 images / 4 per batch × 2 epochs
    first_epoch = np.concatenate([y for _, y in full[:6]])
    assert sorted(first_epoch) == sorted(np.repeat([0, 1, 2], 8)).copy()
    second_epoch = np.concatenate([y for _, y in full[6:]])
    assert not np.array_equal(first_epoch, second_epoch)  # reshuffled per epoch
    resumed = stream(start_step=7)
    assert len(resumed) == 5
    for (x, y), (x_ref, y_ref) in zip(resumed, full[7:], strict=True):
        np.testing.assert_array_equal(y, y_ref)
        np.testing.assert_array_equal(x, x_ref)  # same crops and flips


def test_steps_per_epoch_may_use_part_of_the_data_never_more(folder):
    options = dict(training=True, batch_size=4, image_size=16, epochs=1)
    assert len(list(data.image_folder(folder, steps_per_epoch=2, **options))) == 2
    with pytest.raises(ValueError, match=r"steps_per_epoch must lie in \[1, 6\]: 24 examples"):
        data.image_folder(folder, steps_per_epoch=7, **options)
    with pytest.raises(ValueError, match="steps_per_epoch must lie in"):
        data.image_folder(folder, steps_per_epoch=0, **options)


def test_hosts_see_disjoint_shards_covering_each_epoch(folder):
    seen = []
    for host in range(2):
        dataset = data.image_folder(
            folder,
            training=True,
            batch_size=4,
            image_size=16,
            epochs=1,
            num_hosts=2,
            host_index=host,
            augmentation=None,
        )
        source = data.ImageFolderSource(folder)
        records = source.epoch_records(0, 0).shard(2, host).take(12)
        seen.append([r["path"] for r in records.as_numpy_iterator()])
        assert len(list(dataset.as_numpy_iterator())) == 3
    assert not set(seen[0]) & set(seen[1])
    assert len(set(seen[0]) | set(seen[1])) == 24


def test_corrupt_and_non_image_files_are_skipped_with_a_warning_naming_them(tmp_path, caplog):
    root = write_image_folder(str(tmp_path), classes=2, per_class=3)
    (tmp_path / "c0" / "notes.txt").write_text("not an image")
    (tmp_path / "c1" / "broken.jpg").write_bytes(b"garbage bytes")
    with caplog.at_level(logging.WARNING):
        paths, labels, _, skipped = data.list_image_folder(root)
    assert len(paths) == 6 and len(skipped) == 2
    assert "c0/notes.txt" in caplog.text and "c1/broken.jpg" in caplog.text
    with pytest.raises(ValueError, match=r"2 file\(s\).*c1/broken.jpg.*strict=False"):
        data.image_folder(root, training=False, strict=True)


def test_truncated_jpeg_is_skipped_at_decode_time_unless_strict(tmp_path):
    root = write_image_folder(str(tmp_path), classes=1, per_class=3, fmt="jpg")
    path = tmp_path / "c0" / "000.jpg"
    path.write_bytes(path.read_bytes()[:40])  # valid header, truncated body
    dataset = data.image_folder(
        root, training=False, batch_size=8, image_size=16, max_bad_fraction=0.5
    )
    assert len(_labels(dataset)) == 2
    strict = data.image_folder(root, training=False, batch_size=8, image_size=16, strict=True)
    with pytest.raises(tf.errors.InvalidArgumentError):
        list(strict.as_numpy_iterator())


def test_directory_without_class_folders(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    with pytest.raises(ValueError, match="needs one sub-folder per class.*a.jpg"):
        data.image_folder(str(tmp_path), training=True)


def test_mixed_sizes_without_resizing_are_refused_naming_the_files(tmp_path):
    root = write_image_folder(str(tmp_path / "a"), classes=2, per_class=2, size=(20, 20))
    write_image_folder(str(tmp_path / "b"), classes=1, per_class=1, size=(30, 24), seed=1)
    (tmp_path / "b" / "c0" / "000.png").rename(tmp_path / "a" / "c1" / "odd.png")
    with pytest.raises(ValueError, match=r"same size.*c1/odd.png is 30×24.*image_size=<side>"):
        data.image_folder(root, training=False, image_size=None, batch_size=2)
    # Same-size images batch at their native size.
    (tmp_path / "a" / "c1" / "odd.png").unlink()
    dataset = data.image_folder(root, training=False, image_size=None, batch_size=4)
    assert next(iter(dataset))[0].shape == (4, 20, 20, 3)


def test_more_classes_than_the_model_is_refused(folder):
    with pytest.raises(ValueError, match=r"3 classes.*outside \[0, num_classes=2\)"):
        data.image_folder(folder, training=True, batch_size=4, num_classes=2)


def _write_shards(tmp_path, labels, num_shards=2):
    image = tf.io.encode_jpeg(np.full((20, 20, 3), 128, np.uint8)).numpy()
    examples = [(image, label, f"img{i}.jpg") for i, label in enumerate(labels)]
    return data.write_tfrecords(examples, str(tmp_path / "train"), num_shards=num_shards)


def test_tfrecords_in_the_tf_imagenet_format(tmp_path):
    _write_shards(tmp_path, [0, 1, 2, 1, 0, 2])
    pattern = str(tmp_path / "train-*")
    dataset = data.tfrecords(pattern, training=False, batch_size=6, image_size=16, num_classes=3)
    assert sorted(_labels(dataset)) == [0, 0, 1, 1, 2, 2]
    train = data.tfrecords(
        pattern, training=True, batch_size=3, image_size=16, num_classes=3, epochs=1
    )
    assert sorted(_labels(train)) == [0, 0, 1, 1, 2, 2]
    shifted = data.tfrecords(
        pattern, training=False, batch_size=6, image_size=16, num_classes=3, label_offset=-1
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="outside \\[0, num_classes=3\\)"):
        list(shifted.as_numpy_iterator())


def test_tfrecord_labels_outside_the_classes_raise_naming_the_example(tmp_path):
    _write_shards(tmp_path, [0, 1, 3], num_shards=1)
    dataset = data.tfrecords(
        str(tmp_path / "train-*"), training=False, batch_size=3, image_size=16, num_classes=3
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="label_offset=-1.*img2.jpg"):
        list(dataset.as_numpy_iterator())


def test_tfrecord_pattern_that_matches_nothing(tmp_path):
    with pytest.raises(ValueError, match="No TFRecord file matches"):
        data.tfrecords(str(tmp_path / "none-*"), training=True)


def test_eval_crop_is_timms_center_and_squash_transforms():
    image = tf.cast(tf.reshape(tf.range(40 * 62 * 3) % 251, (40, 62, 3)), tf.uint8)

    def resized(height, width):
        out = tf.image.resize(
            tf.cast(image, tf.float32), (height, width), "bilinear", antialias=True
        )
        return tf.clip_by_value(out, 0, 255).numpy()

    def crop(mode):
        return preprocessing.eval_resize_and_crop(
            image, 28, crop_pct=0.875, interpolation="bilinear", crop_mode=mode
        ).numpy()

    # Short side 40 → ⌊28 / 0.875⌋ = 32; the long side ⌊32 · 62 / 40⌋ = ⌊49.6⌋ = 49, as
    # torchvision's Resize truncates; the centre crop's offset round(21 / 2) = 10 rounds half
    # to even, as torchvision's CenterCrop.
    np.testing.assert_allclose(crop("center"), resized(32, 49)[2:30, 10:38], rtol=0, atol=1e-4)
    # squash (timm's dm_nfnet_* configs): both sides to 32, then the centre 28×28.
    np.testing.assert_allclose(crop("squash"), resized(32, 32)[2:30, 2:30], rtol=0, atol=1e-4)


def test_unknown_crop_mode_is_refused(folder):
    with pytest.raises(ValueError, match="crop_mode must be one of \\('center', 'squash'\\)"):
        data.image_folder(folder, training=False, image_size=16, crop_mode="border")


def test_inception_crop_covers_the_area_and_ratio_range():
    image_bytes = tf.io.encode_jpeg(tf.zeros((100, 200, 3), tf.uint8))
    areas, ratios = [], []
    for i in range(200):
        window = preprocessing.random_crop_window(
            image_bytes, tf.constant([i, 7]), (0.08, 1.0), (3 / 4, 4 / 3)
        ).numpy()
        areas.append(window[2] * window[3] / 20000)
        ratios.append(window[3] / window[2])
    # A 100×200 image with ratio ≤ 4/3 allows at most 100×133 pixels, 2/3 of it.
    assert 0.079 <= min(areas) < 0.2 and 0.55 < max(areas) <= 0.67
    assert min(ratios) >= 0.7 and max(ratios) <= 1.4


@pytest.mark.slow
def test_tfds_builder_by_name_offline(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=12, data_dir=str(tmp_path)):
        source = data.TFDSSource("imagenette", "train")
        assert source.num_classes == 10 and source.num_examples == 12
        dataset = data.make_dataset(
            source, training=True, batch_size=4, image_size=16, epochs=1, num_classes=10
        )
        batches = list(dataset.as_numpy_iterator())
    assert len(batches) == 3 and batches[0][0].shape == (4, 16, 16, 3)


def test_tfds_unknown_name():
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(ValueError, match="Unknown TFDS dataset 'no_such_dataset_xyz'"):
        data.TFDSSource("no_such_dataset_xyz", "train")
