"""load_runtime(): LiteRT's kernel sets for a .tflite file, and its argument errors."""

import keras
import numpy as np
import pytest

from keras_minimal.deploy.exporter import export
from keras_minimal.deploy.runtimes import TFLITE_KERNELS, load_runtime

pytest.importorskip("ai_edge_litert")
if keras.backend.backend() != "tensorflow":
    pytest.skip("export runs on the TensorFlow backend", allow_module_level=True)


def _int8_file(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(32, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(10)(x))
    images = np.random.default_rng(0).normal(size=(64, 12, 12, 3)).astype("float32")
    path = str(tmp_path / "int8.tflite")
    export(model, path, "tflite", quantization="int8", representative_data=images, fuse=False)
    return path, images


def test_each_kernel_set_runs_the_int8_file_its_own_way(tmp_path):
    path, images = _int8_file(tmp_path)
    outputs = {
        kernels: load_runtime("tflite", path, tflite_kernels=kernels)(images)
        for kernels in TFLITE_KERNELS
    }
    default = outputs["xnnpack"]
    step = np.min(np.diff(np.unique(default)))
    for kernels, values in outputs.items():
        assert np.abs(values - default).max() <= step * 1.001, kernels
    # TFLite's reference MEAN is integer arithmetic, XNNPACK's is float: some level moves.
    assert np.any(outputs["reference"] != default)


def test_kernel_set_errors_name_the_choices():
    with pytest.raises(ValueError, match=r"one of \['builtin', 'reference', 'xnnpack'\]"):
        load_runtime("tflite", "m.tflite", tflite_kernels="ref")
    with pytest.raises(ValueError, match="does not run in LiteRT"):
        load_runtime("onnx", "m.onnx", tflite_kernels="reference")
