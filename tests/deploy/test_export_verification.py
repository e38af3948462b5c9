"""export()'s verification of a PP-LCNet: the parity verdict, what is compared with what,
and the int8 calibration set.

The artefacts of the other export tests are correct, so a check that compared the Keras
model with itself would pass them: here the artefact or the fused graph is made to differ
by a known amount, and the report must measure exactly that.
"""

import json

import keras
import numpy as np
import pytest

from keras_minimal.applications import PPLCNet
from keras_minimal.deploy import exporter
from keras_minimal.deploy.exporter import ExportVerificationError, export
from keras_minimal.deploy.parity import compare
from tests.helpers import randomize_batch_norms

pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")
if keras.backend.backend() != "tensorflow":
    pytest.skip("export runs on the TensorFlow backend", allow_module_level=True)

SIDE = 32
OFFSET = 0.05  # what the tampered artefact / graph adds to every logit


def _model():
    return randomize_batch_norms(
        PPLCNet(
            0.25,
            input_shape=(SIDE, SIDE, 3),
            classes=10,
            include_preprocessing=False,
            classifier_activation=None,
        )
    )


def _images(n=4, scale=1.0, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, SIDE, SIDE, 3))
    return (scale * x).astype("float32")


@pytest.mark.parametrize("numerics, tolerance", [("float32", 1e-4), ("float16", 1e-2)])
def test_verdict_is_max_abs_error_within_tolerance_times_max_abs_reference(numerics, tolerance):
    reference = np.random.default_rng(0).normal(size=(4, 10))
    scale = np.max(np.abs(reference))
    for factor, passed in ((0.5, True), (2.0, False)):
        outputs = reference.copy()
        outputs[1, 3] += factor * tolerance * scale
        check = compare("m", "runtime", numerics, reference, outputs)
        assert check.passed is passed
        assert check.max_abs_error == pytest.approx(factor * tolerance * scale, rel=1e-6)
        assert check.max_rel_error == pytest.approx(factor * tolerance, rel=1e-6)
        assert check.tolerance == tolerance


def test_the_artefact_outputs_are_what_is_verified(tmp_path, monkeypatch):
    real = exporter.load_runtime

    def off_by_offset(format, path, threads=2):
        run = real(format, path, threads)
        return lambda x: run(x) + OFFSET

    monkeypatch.setattr(exporter, "load_runtime", off_by_offset)
    path = tmp_path / "m.onnx"
    with pytest.raises(ExportVerificationError, match="outside tolerance") as error:
        export(_model(), str(path), "onnx", verification_data=_images())
    fused_check, artefact_check = error.value.result.checks
    assert fused_check.passed
    assert not artefact_check.passed
    assert artefact_check.max_abs_error == pytest.approx(OFFSET, rel=1e-3)
    assert not path.exists() and (tmp_path / "m.failed.onnx").is_file()


def test_the_fused_graph_is_verified_against_the_original(tmp_path, monkeypatch):
    real = exporter.to_deploy

    def broken_fusion(model):
        fused = real(model)
        bias = fused.get_layer("predictions").bias
        bias.assign(bias + OFFSET)
        return fused

    monkeypatch.setattr(exporter, "to_deploy", broken_fusion)
    with pytest.raises(ExportVerificationError) as error:
        export(_model(), str(tmp_path / "m.onnx"), "onnx", verification_data=_images())
    fused_check, artefact_check = error.value.result.checks
    assert fused_check.runtime == "Keras" and not fused_check.passed
    assert fused_check.max_abs_error == pytest.approx(OFFSET, rel=1e-3)
    assert artefact_check.passed  # the artefact is faithful to the (broken) fused graph
    report = json.loads((tmp_path / "m.failed.onnx.report.json").read_text())
    assert report["passed"] is False


def test_int8_calibrates_on_the_first_num_calibration_images(tmp_path):
    """The int8 input range is the calibration images' range, and only theirs."""
    calibration = _images(4)
    # Images past num_calibration are 100× larger: calibrating on them widens the range.
    data = np.concatenate([calibration, _images(12, scale=100.0, seed=1)])
    result = export(
        _model(),
        str(tmp_path / "m.tflite"),
        "tflite",
        quantization="int8",
        int8_io=True,
        representative_data=data,
        num_calibration=len(calibration),
        verification_data=calibration,
    )
    from ai_edge_litert.interpreter import Interpreter

    scale, _ = Interpreter(model_path=result.path).get_input_details()[0]["quantization"]
    # Asymmetric int8: 255 steps over [min(x, 0), max(x, 0)].
    low, high = min(calibration.min(), 0.0), max(calibration.max(), 0.0)
    assert scale == pytest.approx((high - low) / 255, rel=0.02)
