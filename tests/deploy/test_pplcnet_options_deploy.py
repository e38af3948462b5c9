"""PP-LCNet built with PaddleClas' options (per-axis strides, no last conv, ReLU6) folds
and exports like the default network."""

import keras
import numpy as np
import pytest

from keras_minimal.applications import PPLCNet
from keras_minimal.deploy import to_deploy
from tests.helpers import assert_matches_reference, randomize_batch_norms

OPTIONS = [
    {"stride_list": [2, [2, 1], [2, 1], [2, 1], [2, 1]], "act": "relu6"},
    {"use_last_conv": False, "act": "relu", "stride_list": [1, 2, 2, 2, 2]},
    {"class_expand": 320, "head_bias": True},
]


def _model(options):
    return randomize_batch_norms(
        PPLCNet(0.25, classes=6, classifier_activation=None, input_shape=(32, 48, 3), **options)
    )


def _images():
    return np.random.default_rng(0).uniform(0, 255, (2, 32, 48, 3)).astype("float32")


@pytest.mark.multibackend
@pytest.mark.parametrize("options", OPTIONS)
def test_to_deploy_keeps_the_options_and_the_outputs(options):
    model = _model(options)
    fused = to_deploy(model)
    x = _images()
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    assert_matches_reference(fused(x, training=False), expected, rtol=1e-5)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in fused.layers)
    assert {k: fused.builder_config[k] for k in options} == options


@pytest.mark.parametrize("format, name", [("tflite", "m.tflite"), ("onnx", "m.onnx")])
def test_export_verifies_in_its_runtime(tmp_path, format, name):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("ai_edge_litert")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("export runs on the TensorFlow backend")
    from keras_minimal.deploy.exporter import export

    result = export(_model(OPTIONS[0]), str(tmp_path / name), format, verification_data=_images())
    assert result.passed and all(check.passed for check in result.checks)
