"""ImageFolder data that cannot train: empty class folders and a single class."""

import logging
import os

import numpy as np
import pytest

from keras_minimal.training import data
from tests.training.synthetic import write_image_folder


def _labels(dataset):
    return np.concatenate([y for _, y in dataset.as_numpy_iterator()])


def test_an_empty_class_folder_is_refused_naming_it_and_the_ways_out(tmp_path):
    root = write_image_folder(str(tmp_path), classes=3, per_class=2)
    os.mkdir(tmp_path / "c3")
    expected = (
        r"1 of the 4 in .* have no readable images: .*Remove the empty folder\(s\) or add "
        r"images to them; .*pass allow_empty=True\. Received: class folders without images: c3$"
    )
    with pytest.raises(ValueError, match=expected):
        data.list_image_folder(root)
    for training in (True, False):
        with pytest.raises(ValueError, match=expected):
            data.image_folder(root, training=training, batch_size=2, image_size=16)


def test_a_class_folder_of_unreadable_files_only_counts_as_empty(tmp_path):
    root = write_image_folder(str(tmp_path), classes=2, per_class=2)
    os.mkdir(tmp_path / "c2")
    (tmp_path / "c2" / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match=r"without images: c2$"):
        data.ImageFolderSource(root)


def test_allow_empty_keeps_folder_indices_as_labels_with_a_warning(tmp_path, caplog):
    root = write_image_folder(str(tmp_path), classes=2, per_class=3)
    os.mkdir(tmp_path / "c0_empty")  # sorts between c0 and c1
    with caplog.at_level(logging.WARNING):
        source = data.ImageFolderSource(root, allow_empty=True)
    assert source.class_names == ["c0", "c0_empty", "c1"] and source.num_classes == 3
    assert "c0_empty" in caplog.text and "no examples" in caplog.text
    dataset = data.image_folder(root, training=False, allow_empty=True, batch_size=2, image_size=16)
    np.testing.assert_array_equal(_labels(dataset), [0, 0, 0, 2, 2, 2])


def test_a_single_class_cannot_train_but_can_be_evaluated(tmp_path):
    root = write_image_folder(str(tmp_path), classes=1, per_class=3)
    expected = r"at least two classes, and .* has images of one class only \('c0'\)"
    with pytest.raises(ValueError, match=expected):
        data.image_folder(root, training=True, batch_size=2, image_size=16)
    with pytest.raises(ValueError, match=expected):
        data.ImageFolderSource(root).check_trainable()
    dataset = data.image_folder(root, training=False, batch_size=2, image_size=16)
    np.testing.assert_array_equal(_labels(dataset), [0, 0, 0])


def test_one_class_with_images_beside_allowed_empty_ones_cannot_train(tmp_path):
    root = write_image_folder(str(tmp_path), classes=1, per_class=3)
    os.mkdir(tmp_path / "c1")
    source = data.ImageFolderSource(root, allow_empty=True)
    with pytest.raises(ValueError, match=r"one class only \('c0'\).*\['c0', 'c1'\]"):
        source.check_trainable()


def test_any_source_of_one_class_cannot_train():
    images = np.zeros((4, 8, 8, 3), "uint8")
    with pytest.raises(ValueError, match=r"at least two classes.*Received: num_classes=1"):
        data.ArraySource(images, np.zeros(4, "int32")).check_trainable()
    data.ArraySource(images, np.array([0, 1, 0, 1])).check_trainable()
