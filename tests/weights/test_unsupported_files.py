"""A file of a kind that is not read says what it looks like and which kinds are read."""

import re

import h5py
import keras
import numpy as np
import pytest

from keras_minimal.weights import load_reference
from tests.helpers import load_fixture, vanillanet_for

FIXTURE = load_fixture("vanillanet_tiny5")
READ_ARE = (
    "Read are PyTorch checkpoints (.pth/.pt/.bin/.ckpt/.pth.tar), PaddlePaddle .pdparams, "
    ".safetensors and .npz archives of arrays, DeepMind's pickled F*_haiku.npz, and, as "
    "weights= of a constructor, Keras .weights.h5 files"
)


def _hdf5(path):
    with h5py.File(path, "w") as file:
        file["dense/kernel"] = np.ones((2, 2))


def _keras_archive(path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.save(path)


def _tflite(path):
    # A FlatBuffer: the root table's offset, then the file identifier "TFL3".
    path.write_bytes((28).to_bytes(4, "little") + b"TFL3" + bytes(64))


def _onnx(path):
    path.write_bytes(b"\x08\x08\x12\x07pytorch\x1a\x032.1")  # ir_version, producer_name...


def _text(path):
    path.write_text("conv1.weight: 0.1 0.2 0.3\nconv1.bias: 0.0\n")


@pytest.mark.parametrize(
    "name, writer, looks_like",
    [
        ("model.tflite", _tflite, "a TensorFlow Lite model"),
        ("model.onnx", _onnx, "an ONNX model (an exported inference graph, not a checkpoint)"),
        ("weights.txt", _text, "a text file beginning 'conv1.weight: 0.1 0.2 0.3'"),
    ],
)
def test_the_error_names_the_kind_and_the_kinds_read(tmp_path, name, writer, looks_like):
    path = tmp_path / name
    writer(path)
    expected = (
        rf"Unsupported checkpoint format\. It looks like {re.escape(looks_like)}.*"
        rf"{re.escape(READ_ARE)}.*Received: '{re.escape(str(path))}'"
    )
    with pytest.raises(ValueError, match=expected):
        load_reference(vanillanet_for(FIXTURE), path)
    with pytest.raises(ValueError, match=expected):
        vanillanet_for(FIXTURE, weights=str(path))


@pytest.mark.parametrize("name, writer", [("model.h5", _hdf5), ("model.keras", _keras_archive)])
def test_a_keras_file_is_named_as_one_and_weights_says_whose_it_is_not(tmp_path, name, writer):
    path = tmp_path / name
    writer(path)
    with pytest.raises(ValueError, match=r"is a Keras weights file, not a reference checkpoint"):
        load_reference(vanillanet_for(FIXTURE), path)
    with pytest.raises(ValueError, match=r"must come from model.save_weights\(\) of the same"):
        vanillanet_for(FIXTURE, weights=str(path))
