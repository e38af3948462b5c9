import json
import os

import keras
import numpy as np
import pytest

from keras_minimal.applications import VanillaNet
from keras_minimal.weights import load_reference
from tests.helpers import load_fixture
from tests.tools.tool_process import error_line, run_tool
from tests.trained_digits import train_digits_vanillanet

pytestmark = pytest.mark.slow


def _run(*args):
    return run_tool("export", *args)


def test_exports_and_verifies_every_format(tmp_path):
    fixture = load_fixture("vanillanet_tiny5")
    config = fixture.config
    model = load_reference(
        VanillaNet(
            config["dims"],
            config["strides"],
            classes=10,
            include_preprocessing=False,
            classifier_activation=None,
            input_shape=(64, 64, 3),
        ),
        fixture.state_dict,
    )
    keras_file = tmp_path / "trained.keras"
    model.save(keras_file)
    data = tmp_path / "images.npy"
    np.save(data, np.concatenate([fixture.inputs] * 4))
    result = _run(
        f"--keras_file={keras_file}",
        "--formats=saved_model,tflite,onnx",
        f"--output={tmp_path / 'out'}",
        "--name=tiny",
        f"--representative_data={data}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for artefact in ("tiny_saved_model", "tiny.tflite", "tiny.onnx"):
        report = json.loads((tmp_path / "out" / f"{artefact}.report.json").read_text())
        assert report["passed"] and report["fused"]
    assert result.stdout.count("pass") >= 6


def test_exits_non_zero_when_the_runtime_cannot_run_the_artefact(tmp_path):
    inputs = keras.Input((4, 4, 3))
    outputs = keras.layers.Dense(2, activation=keras.activations.gelu)(inputs)
    keras_file = tmp_path / "gelu.keras"
    keras.Model(inputs, outputs).save(keras_file)
    result = _run(
        f"--keras_file={keras_file}",
        "--nofuse",
        "--formats=onnx",
        f"--output={tmp_path}",
        "--name=gelu",
    )
    assert result.returncode == 1
    assert "verification failed" in result.stderr and "Erfc" in result.stdout


def test_bad_arguments_name_the_choices(tmp_path):
    result = _run("--model=vanillanet_5", "--formats=coreml", f"--output={tmp_path}")
    assert "choose from ('saved_model', 'tflite', 'onnx')" in error_line(result)
    result = _run("--model=vanillanet_5", "--formats=", f"--output={tmp_path}")
    assert "--formats is empty" in error_line(result)
    result = _run("--model=vanillanet_99", f"--output={tmp_path}")
    assert "Unknown model name 'vanillanet_99'" in error_line(result)


def test_int8_calibrates_a_model_without_preprocessing_on_normalised_images(tmp_path):
    """ImageFolder images are ImageNet-normalised for a model that takes normalised input."""
    import tensorflow as tf

    from keras_minimal.applications import PPLCNet
    from keras_minimal.applications.backbone import IMAGENET_MEAN, IMAGENET_STD
    from keras_minimal.deploy.calibration import calibration_images

    rng = np.random.default_rng(0)
    (tmp_path / "images" / "any").mkdir(parents=True)
    for i in range(6):
        pixels = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
        (tmp_path / "images" / "any" / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    # Logits: random weights give a flat softmax, which int8 rounds to a ten-way tie.
    model = PPLCNet(
        0.25,
        input_shape=(32, 32, 3),
        classes=10,
        include_preprocessing=False,
        classifier_activation=None,
    )
    model.save(tmp_path / "raw_input.keras")
    result = _run(
        f"--keras_file={tmp_path / 'raw_input.keras'}",
        "--formats=tflite",
        "--quantization=int8",
        "--int8_io",
        f"--representative_data={tmp_path / 'images'}",
        f"--output={tmp_path / 'out'}",
        "--name=m",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(tmp_path / "out" / "m_int8.tflite"))
    scale, _ = interpreter.get_input_details()[0]["quantization"]
    rgb = calibration_images(str(tmp_path / "images"), 32)
    normalised = (rgb / 255.0 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    # Asymmetric int8 input: 255 steps over the calibration range (which includes 0).
    assert scale == pytest.approx((normalised.max() - normalised.min()) / 255, rel=0.02)


def test_quantization_without_a_tflite_target_is_a_usage_error(tmp_path):
    result = _run(
        "--model=vanillanet_5", "--formats=onnx", "--quantization=int8", f"--output={tmp_path}"
    )
    assert error_line(result) == (
        "error: --quantization=int8 applies to TFLite only; add tflite to --formats."
    )
    assert os.listdir(tmp_path) == []


def test_int8_export_of_a_trained_keras_file_passes(tmp_path):
    """The int8 command the docs give, on a trained model saved as a .keras file."""
    keras_file = train_digits_vanillanet(tmp_path / "digits.keras")
    result = _run(
        f"--keras_file={keras_file}",
        "--formats=tflite",
        "--quantization=int8",
        "--int8_io",
        "--representative_data=digits",
        f"--output={tmp_path / 'exported'}",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((tmp_path / "exported" / "digits_int8.tflite.report.json").read_text())
    assert report["passed"] and report["quantization"] == "int8"
    assert [c["compared"] for c in report["checks"]] == ["logits", "logits", "probabilities"]
    assert [line.split()[3] for line in result.stdout.splitlines() if "LiteRT" in line] == [
        "logits",
        "probabilities",
    ]
