"""export()'s verification: the parity verdict, what is compared with what (logits as well
as the probabilities of a softmax), the int8 calibration set, and int8 on a trained
classifier calibrated right and wrong.

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
from keras_minimal.deploy.runtimes import load_runtime
from keras_minimal.normalization import IMAGENET_MEAN, IMAGENET_STD
from tests.helpers import randomize_batch_norms
from tests.trained_digits import digits, train_digits_vanillanet

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


# What int8 is judged on (keras_minimal/deploy/parity.py derives the numbers): logits keep
# Keras' top class on at least half of the images and stay within 0.75 of max |logit|.


def _class_scores(rows=4, classes=10):
    """Logits whose top class 1 (3.0) leads the runner-up, class 2 (2.9), by 0.1; class 0
    is the lowest (−2.0); max |logit| is 3."""
    scores = np.random.default_rng(0).uniform(-2.0, 0.0, (rows, classes))
    scores[:, 0], scores[:, 1], scores[:, 2] = -2.0, 3.0, 2.9
    return scores


@pytest.mark.parametrize(
    "flipped, raised, failure",
    [(2, 0.7, None), (3, 0.0, "top-1 agreement below 50%"), (0, 0.8, "outside tolerance")],
)
def test_int8_logits_keep_the_top_class_of_half_the_images_within_075(flipped, raised, failure):
    reference = _class_scores()
    outputs = reference.copy()
    outputs[:flipped, [1, 2]] = outputs[:flipped, [2, 1]]  # the runner-up comes first
    outputs[:, 0] += raised * 3.0  # the lowest logit rises, below the top ones
    check = compare("m", "runtime", "int8", reference, outputs, compared="logits")
    assert check.top1_agreement == (4 - flipped) / 4
    assert check.max_rel_error == pytest.approx(max(raised, 0.1 / 3 if flipped else 0.0))
    assert check.passed is (failure is None)
    assert check.failures() == ([failure] if failure else [])


def test_int8_probabilities_are_judged_on_their_top_class_and_a_tie_is_chance():
    logits = _class_scores()
    probabilities = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    # Far off in value, as int8 outputs are, but with Keras' top class on top: a pass.
    one_hot = np.eye(10)[probabilities.argmax(-1)] * 0.5
    check = compare("m", "runtime", "int8", probabilities, one_hot, compared="probabilities")
    assert check.passed and check.top1_agreement == 1.0 and check.max_rel_error > 0.75
    # A flat softmax that int8 rounds to zeros ranks no class: 1 in 10 by chance, a failure.
    zeros = np.zeros_like(probabilities)
    check = compare("m", "runtime", "int8", probabilities, zeros, compared="probabilities")
    assert check.top1_agreement == pytest.approx(0.1) and not check.passed
    # Two classes tied at the top count half.
    tied = one_hot.copy()
    tied[:, 2] = 0.5
    check = compare("m", "runtime", "int8", probabilities, tied, compared="probabilities")
    assert check.top1_agreement == pytest.approx(0.5)


def _saturated_softmax_model():
    """A softmax model whose class 1 leads every other by about 3,000: its probabilities
    are exactly one-hot in float32 and float64."""
    model = randomize_batch_norms(
        PPLCNet(0.25, input_shape=(SIDE, SIDE, 3), classes=10, include_preprocessing=False)
    )
    head = model.get_layer("predictions")
    kernel, bias = head.get_weights()
    bias[:] = 0.0
    bias[1] = 3000.0
    head.set_weights([kernel, bias])
    return model


def test_a_saturated_softmax_is_verified_on_its_logits(tmp_path, monkeypatch):
    """A runtime whose logits are 150 too high for every class but the top one: the
    saturated softmax hides it (its probabilities are those of Keras), the logits do not."""
    model = _saturated_softmax_model()
    probabilities = np.asarray(model(_images()), "float64")
    np.testing.assert_array_equal(probabilities, np.eye(10)[[1] * len(probabilities)])
    real = exporter.load_runtime
    error = 150.0

    def off_logits(format, path, threads=2):
        run = real(format, path, threads)

        def run_with_off_logits(x):
            y = run(x).astype("float64")
            off = error * (y < y.max(-1, keepdims=True))
            if np.all(y >= 0) and np.allclose(y.sum(-1), 1.0):  # probabilities: softmax(z + off)
                with np.errstate(divide="ignore"):
                    z = np.log(y) + off
                return np.exp(z) / np.exp(z).sum(-1, keepdims=True)
            return y + off

        return run_with_off_logits

    monkeypatch.setattr(exporter, "load_runtime", off_logits)
    with pytest.raises(ExportVerificationError, match="outside tolerance") as raised:
        export(model, str(tmp_path / "m.onnx"), "onnx", verification_data=_images())
    keras_graph, logits, outputs = raised.value.result.checks
    assert [c.compared for c in (keras_graph, logits, outputs)] == [
        "logits",
        "logits",
        "probabilities",
    ]
    assert keras_graph.passed and not logits.passed
    assert logits.max_abs_error == pytest.approx(error, rel=1e-3)
    # What a check of the probabilities alone would have said: no difference at all.
    assert outputs.passed and outputs.max_abs_error == 0.0
    assert (tmp_path / "m.failed.onnx").is_file() and not (tmp_path / "m.onnx").exists()
    report = json.loads((tmp_path / "m.failed.onnx.report.json").read_text())
    assert report["outputs"] == "probabilities" and report["passed"] is False
    assert [c["compared"] for c in report["checks"]] == ["logits", "logits", "probabilities"]


def test_a_one_shot_calibration_iterator_calibrates_the_artefact_and_its_logits_twin(tmp_path):
    model = randomize_batch_norms(
        PPLCNet(0.25, input_shape=(SIDE, SIDE, 3), classes=10, include_preprocessing=False)
    )
    calibration = _images(8)
    result = export(
        model,
        str(tmp_path / "m.tflite"),
        "tflite",
        quantization="int8",
        int8_io=True,
        representative_data=iter([calibration[:4], calibration[4:]]),
        verification_data=calibration,
        overwrite=True,
    )
    assert [c.compared for c in result.checks[-2:]] == ["logits", "probabilities"]
    from ai_edge_litert.interpreter import Interpreter

    scale, _ = Interpreter(model_path=result.path).get_input_details()[0]["quantization"]
    low, high = min(calibration.min(), 0.0), max(calibration.max(), 0.0)
    assert scale == pytest.approx((high - low) / 255, rel=0.02)


def test_a_static_batch_is_verified_on_whole_batches(tmp_path):
    result = export(
        _model(), str(tmp_path / "m.onnx"), "onnx", batch_size=2, verification_data=_images(7)
    )
    assert json.loads(open(result.report_path).read())["num_verification_inputs"] == 6


def test_int8_without_a_calibration_image_is_refused(tmp_path):
    """A one-shot iterator that verification uses up leaves calibration nothing, and the
    converter would leave the graph in float under an int8 name."""
    images = iter([_images(4)])
    with pytest.raises(ValueError, match="int8 calibration received no image.*list_iterator"):
        export(
            _model(),
            str(tmp_path / "m.tflite"),
            "tflite",
            quantization="int8",
            representative_data=images,
        )
    assert list(tmp_path.iterdir()) == []


# A classifier trained on the digits: a correct int8 calibration passes, a wrong one fails.


@pytest.fixture(scope="module")
def digits_model_file(tmp_path_factory):
    return train_digits_vanillanet(tmp_path_factory.mktemp("digits") / "digits.keras")


def _accuracy(path, images, labels):
    return float(np.mean(load_runtime("tflite", path)(images).argmax(-1) == labels))


@pytest.mark.slow
def test_a_trained_classifier_calibrated_on_its_own_inputs_passes_int8(tmp_path, digits_model_file):
    model = keras.saving.load_model(digits_model_file)
    (x_train, _), (x_test, y_test) = digits()
    keras_accuracy = float(np.mean(model.predict(x_test, verbose=0).argmax(-1) == y_test))
    assert keras_accuracy > 0.9  # a trained classifier
    result = export(
        model,
        str(tmp_path / "digits_int8.tflite"),
        "tflite",
        quantization="int8",
        int8_io=True,
        representative_data=x_train,
        verification_data=x_test,
    )
    keras_graph, logits, outputs = result.checks
    assert result.passed and (logits.compared, outputs.compared) == ("logits", "probabilities")
    assert json.loads(open(result.report_path).read())["num_verification_inputs"] == 32
    # The reported agreement is the artefact's, computed here from its outputs.
    probabilities = load_runtime("tflite", result.path)(x_test[:32])
    keras_top = model.predict(x_test[:32], verbose=0).argmax(-1)
    assert outputs.top1_agreement == np.mean(probabilities.argmax(-1) == keras_top)
    assert _accuracy(result.path, x_test, y_test) >= keras_accuracy - 0.03


@pytest.mark.slow
@pytest.mark.parametrize(
    "wrong",
    [
        lambda x: x / 255.0,  # scaled to [0, 1] for a model that takes [0, 255]
        lambda x: (x / 255.0 - IMAGENET_MEAN) / IMAGENET_STD,  # normalised, then again inside
    ],
    ids=["scaled_to_0_1", "normalised_twice"],
)
def test_an_int8_calibration_on_wrongly_preprocessed_images_fails(
    tmp_path, digits_model_file, wrong
):
    model = keras.saving.load_model(digits_model_file)
    (x_train, _), (x_test, y_test) = digits()
    path = tmp_path / "digits_int8.tflite"
    with pytest.raises(ExportVerificationError, match="top-1 agreement below 50%") as raised:
        export(
            model,
            str(path),
            "tflite",
            quantization="int8",
            int8_io=True,
            representative_data=wrong(x_train).astype("float32"),
            verification_data=x_test,
        )
    keras_graph, logits, outputs = raised.value.result.checks
    assert keras_graph.passed and not logits.passed and not outputs.passed
    failed = tmp_path / "digits_int8.failed.tflite"
    assert failed.is_file() and not path.exists()
    # It is broken indeed: the kept artefact classifies the digits at about chance.
    assert _accuracy(str(failed), x_test, y_test) < 0.3
