"""export(): every format verified in its runtime, against the official deploy outputs too."""

import json
import os

import keras
import numpy as np
import pytest

from keras_minimal.applications import VanillaNet
from keras_minimal.deploy.exporter import ExportVerificationError, export
from keras_minimal.weights import load_reference
from tests.helpers import assert_matches_reference, load_fixture, vanillanet_for

pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")
if keras.backend.backend() != "tensorflow":
    pytest.skip("export runs on the TensorFlow backend", allow_module_level=True)

FIXTURE = load_fixture("vanillanet_tiny5")


def _trained():
    return load_reference(vanillanet_for(FIXTURE), FIXTURE.state_dict)


def _run(path, x):
    from keras_minimal.deploy.runtimes import load_runtime

    fmt = (
        "onnx"
        if path.endswith(".onnx")
        else "tflite"
        if path.endswith(".tflite")
        else "saved_model"
    )
    return load_runtime(fmt, path)(x)


@pytest.mark.parametrize(
    "format, name", [("saved_model", "model"), ("tflite", "model.tflite"), ("onnx", "model.onnx")]
)
def test_fp32_artefacts_reproduce_the_official_deploy_outputs(tmp_path, format, name):
    path = str(tmp_path / name)
    result = export(_trained(), path, format, verification_data=FIXTURE.inputs)
    assert result.passed and [c.passed for c in result.checks] == [True, True]
    assert_matches_reference(_run(path, FIXTURE.inputs), FIXTURE.outputs["deploy"])
    report = json.loads(open(result.report_path).read())
    assert report["passed"] and report["fused"] and report["checks"][1]["max_rel_error"] <= 1e-4
    assert report["opset"] == (17 if format == "onnx" else None)


def test_tflite_fp16_and_full_integer_int8(tmp_path):
    model = _trained()
    calibration = np.concatenate([FIXTURE.inputs] * 8)
    fp16 = export(
        model,
        str(tmp_path / "fp16.tflite"),
        "tflite",
        quantization="fp16",
        verification_data=FIXTURE.inputs,
    )
    assert fp16.checks[-1].numerics == "float16" and fp16.checks[-1].max_rel_error <= 1e-2
    int8 = export(
        model,
        str(tmp_path / "int8.tflite"),
        "tflite",
        quantization="int8",
        int8_io=True,
        representative_data=calibration,
    )
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=int8.path)
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert interpreter.get_output_details()[0]["dtype"] == np.int8
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert "DEQUANTIZE" not in ops and int8.passed


def test_static_and_dynamic_batch(tmp_path):
    import onnxruntime

    model = _trained()
    export(model, str(tmp_path / "static.onnx"), "onnx", batch_size=2)
    export(model, str(tmp_path / "dynamic.onnx"), "onnx")
    static = onnxruntime.InferenceSession(str(tmp_path / "static.onnx")).get_inputs()[0].shape
    dynamic = onnxruntime.InferenceSession(str(tmp_path / "dynamic.onnx")).get_inputs()[0].shape
    assert static == [2, 64, 64, 3] and not isinstance(dynamic[0], int)


def test_preprocessing_flag_rebuilds_the_input(tmp_path):
    config = FIXTURE.config
    model = VanillaNet(config["dims"], config["strides"], classes=10, input_shape=(64, 64, 3))
    images = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    with_pre = export(model, str(tmp_path / "pre.onnx"), "onnx", verification_data=images)
    without = export(model, str(tmp_path / "raw.onnx"), "onnx", include_preprocessing=False)
    assert with_pre.passed and without.passed
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    normalized = ((images / 255 - mean) / std).astype("float32")
    np.testing.assert_allclose(
        _run(without.path, normalized), _run(with_pre.path, images), rtol=1e-4, atol=1e-6
    )


def test_mixed_precision_model_is_exported_in_float32(tmp_path):
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = _trained()
    finally:
        keras.config.set_dtype_policy("float32")
    result = export(
        model, str(tmp_path / "model.tflite"), "tflite", verification_data=FIXTURE.inputs
    )
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=result.path)
    float_types = {
        np.dtype(t["dtype"])
        for t in interpreter.get_tensor_details()
        if np.issubdtype(t["dtype"], np.floating)
    }
    assert float_types == {np.dtype("float32")}
    assert_matches_reference(
        _run(result.path, FIXTURE.inputs), FIXTURE.outputs["deploy"], rtol=1e-2
    )


# --- bad input ----------------------------------------------------------------------------


def test_unknown_format_quantization_and_opset(tmp_path):
    model = _trained()
    with pytest.raises(ValueError, match="Unknown export format.*Received: 'coreml'"):
        export(model, str(tmp_path / "m"), "coreml")
    with pytest.raises(ValueError, match="onnx supports quantization in"):
        export(model, str(tmp_path / "m.onnx"), "onnx", quantization="int8")
    with pytest.raises(ValueError, match="ONNX opset must be in 13..18.*Received: 9"):
        export(model, str(tmp_path / "m.onnx"), "onnx", opset=9)
    assert os.listdir(tmp_path) == []


def test_int8_needs_a_representative_dataset(tmp_path):
    with pytest.raises(
        ValueError, match="int8 post-training quantisation needs representative_data"
    ):
        export(_trained(), str(tmp_path / "m.tflite"), "tflite", quantization="int8")


def test_bad_numbers_are_refused_before_anything_is_written(tmp_path):
    model = _trained()
    for name, value in (("batch_size", 0), ("num_verification", 0), ("num_calibration", 1.5)):
        with pytest.raises(ValueError, match=f"{name} must be a positive integer.*{value}"):
            export(model, str(tmp_path / "m.onnx"), "onnx", **{name: value})
    assert os.listdir(tmp_path) == []


def test_images_of_another_shape_are_refused_before_anything_is_written(tmp_path):
    model = _trained()
    small = np.zeros((4, 32, 32, 3), "float32")
    with pytest.raises(
        ValueError, match=r"verification_data must hold images of .*\(64, 64, 3\).*\(4, 32, 32, 3\)"
    ):
        export(model, str(tmp_path / "m.onnx"), "onnx", verification_data=small)
    with pytest.raises(ValueError, match=r"representative_data must hold images of"):
        export(
            model,
            str(tmp_path / "new" / "sub" / "m.tflite"),
            "tflite",
            quantization="int8",
            representative_data=small,
        )
    with pytest.raises(ValueError, match=r"at least 4 image\(s\).*Received: 2"):
        export(
            model, str(tmp_path / "m.onnx"), "onnx", batch_size=4, verification_data=FIXTURE.inputs
        )
    assert os.listdir(tmp_path) == []


def test_a_failed_conversion_removes_the_directories_it_created(tmp_path, monkeypatch):
    def broken_export(self, filepath, **kwargs):
        raise RuntimeError("converter crashed")

    monkeypatch.setattr(keras.Model, "export", broken_export)
    with pytest.raises(RuntimeError, match="converter crashed"):
        export(_trained(), str(tmp_path / "new" / "sub" / "m.onnx"), "onnx")
    assert os.listdir(tmp_path) == []


def test_every_given_verification_image_is_used(tmp_path):
    assert len(FIXTURE.inputs) < 8  # fewer than num_verification: all of them, no random ones
    result = export(_trained(), str(tmp_path / "m.onnx"), "onnx", verification_data=FIXTURE.inputs)
    assert json.loads(open(result.report_path).read())["num_verification_inputs"] == len(
        FIXTURE.inputs
    )
    nan = np.full_like(FIXTURE.inputs, np.nan)
    with pytest.raises(ExportVerificationError, match="non-finite"):
        export(_trained(), str(tmp_path / "nan.onnx"), "onnx", verification_data=nan)


def test_a_global_mixed_policy_does_not_leak_into_the_export(tmp_path):
    import onnx

    model = _trained()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        result = export(model, str(tmp_path / "m.onnx"), "onnx", include_preprocessing=False)
    finally:
        keras.config.set_dtype_policy("float32")
    graph = onnx.load(result.path).graph
    float_types = {
        onnx.TensorProto.DataType.Name(t.data_type)
        for t in graph.initializer
        if t.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16)
    }
    assert float_types == {"FLOAT"}


def test_existing_path_is_refused_unless_overwrite(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"keep me")
    with pytest.raises(ValueError, match="already exists; pass overwrite=True"):
        export(_trained(), str(path), "onnx")
    assert path.read_bytes() == b"keep me"
    assert export(_trained(), str(path), "onnx", overwrite=True).passed


def test_fusion_at_lambda_below_one_explains_both_ways_out(tmp_path):
    model = _trained()
    model.set_act_learn(0.5)
    with pytest.raises(ValueError, match=r"λ = 1.*act_learn=0.5.*fuse=False \(--nofuse\)"):
        export(model, str(tmp_path / "m.onnx"), "onnx")
    assert export(model, str(tmp_path / "m.onnx"), "onnx", fuse=False).passed


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    model = _trained()

    def broken_export(self, filepath, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"half")
        raise RuntimeError("converter crashed")

    monkeypatch.setattr(keras.Model, "export", broken_export)
    with pytest.raises(RuntimeError, match="converter crashed"):
        export(model, str(tmp_path / "m.onnx"), "onnx")
    assert os.listdir(tmp_path) == []


def test_artefact_that_fails_in_its_runtime_is_reported(tmp_path):
    """Keras' exact GELU lowers to Erfc, which tf2onnx leaves unconverted without raising."""
    inputs = keras.Input((8,))
    model = keras.Model(inputs, keras.layers.Dense(4, activation=keras.activations.gelu)(inputs))
    data = np.random.default_rng(0).normal(size=(4, 8)).astype("float32")
    path = tmp_path / "gelu.onnx"
    path.write_bytes(b"the previous, good artefact")
    with pytest.raises(ExportVerificationError, match="FAIL: .*Erfc") as error:
        export(model, str(path), "onnx", fuse=False, verification_data=data, overwrite=True)
    # A failed artefact never takes the path: the previous one stays, the new one is kept aside.
    assert path.read_bytes() == b"the previous, good artefact"
    failed = tmp_path / "gelu.failed.onnx"
    assert error.value.result.path == str(failed) and failed.is_file()
    report = json.loads((tmp_path / "gelu.failed.onnx.report.json").read_text())
    assert report["passed"] is False and "Erfc" in report["checks"][-1]["error"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "gelu.failed.onnx",
        "gelu.failed.onnx.report.json",
        "gelu.onnx",
    ]


def test_int8_with_a_static_batch_calibrates_with_batches_of_that_size(tmp_path):
    # PP-LCNet's squeeze-excite reshape carries the static batch: batch-1 calibration broke it.
    from keras_minimal.applications import PPLCNet

    # Logits: random weights give a flat softmax, which int8 rounds to a ten-way tie.
    model = PPLCNet(0.25, classes=10, input_shape=(32, 32, 3), classifier_activation=None)
    images = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype("float32")
    path = str(tmp_path / "m.tflite")
    result = export(
        model, path, "tflite", quantization="int8", representative_data=images, batch_size=2
    )
    assert result.passed
    assert _run(path, images[:2]).shape == (2, 10)


def test_export_artefacts_checks_every_target_before_writing_any(tmp_path):
    from keras_minimal.deploy.exporter import export_artefacts

    model = _trained()
    (tmp_path / "tiny.onnx").write_bytes(b"keep")
    with pytest.raises(ValueError, match=r"tiny.onnx' already exists"):
        export_artefacts(model, str(tmp_path), [("saved_model", None), ("onnx", None)], name="tiny")
    with pytest.raises(ValueError, match="int8 post-training quantisation needs representative"):
        export_artefacts(model, str(tmp_path), [("saved_model", None), ("tflite", "int8")])
    assert sorted(os.listdir(tmp_path)) == ["tiny.onnx"]
    with pytest.raises(ValueError, match="int8_io=True applies to int8 TFLite targets"):
        export_artefacts(model, str(tmp_path), [("onnx", None)], name="other", int8_io=True)


def test_int8_io_applies_to_the_int8_target_only(tmp_path):
    from keras_minimal.deploy.exporter import export_artefacts

    results = export_artefacts(
        _trained(),
        str(tmp_path),
        [("saved_model", None), ("tflite", "int8")],
        name="tiny",
        representative_data=np.concatenate([FIXTURE.inputs] * 4),
        int8_io=True,
    )
    assert [r.passed for r in results] == [True, True]
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(tmp_path / "tiny_int8.tflite"))
    assert interpreter.get_input_details()[0]["dtype"] == np.int8


def test_a_keras_quantized_model_is_refused_with_what_to_do(tmp_path):
    from keras_minimal.deploy import to_deploy

    model = _trained()
    model.quantize("int8")
    for call in (lambda: to_deploy(model), lambda: export(model, str(tmp_path / "m.onnx"), "onnx")):
        with pytest.raises(
            ValueError, match=r"quantised by model.quantize\(\) \(stem2_conv, stages_0_conv1"
        ):
            call()
    assert os.listdir(tmp_path) == []


def test_a_sequential_model_exports(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3),
        ]
    )
    assert export(model, str(tmp_path / "m.tflite"), "tflite", fuse=False).passed


def test_data_that_is_not_a_batch_of_images_is_named(tmp_path):
    model = _trained()
    with pytest.raises(ValueError, match=r"add the batch axis.*Received: shape \(64, 64, 3\)"):
        export(model, str(tmp_path / "m.onnx"), "onnx", verification_data=FIXTURE.inputs[0])
    wrong = [np.zeros((2, 32, 32, 3), "float32")] * 3
    with pytest.raises(
        ValueError, match=r"representative_data must hold images of .*\(64, 64, 3\)"
    ):
        export(
            model,
            str(tmp_path / "m.tflite"),
            "tflite",
            quantization="int8",
            representative_data=wrong,
        )
    for bad in (40.0, "40", 0):
        with pytest.raises(ValueError, match=rf"image_size must be a positive integer.*{bad!r}"):
            export(model, str(tmp_path / "m.onnx"), "onnx", image_size=bad)
    assert os.listdir(tmp_path) == []


def test_artefact_names_carry_the_quantisation_once():
    from keras_minimal.deploy.exporter import artefact_path

    assert artefact_path("out", "lc", "tflite", "int8") == os.path.join("out", "lc_int8.tflite")
    assert artefact_path("out", "lc_int8", "tflite", "int8") == os.path.join(
        "out", "lc_int8.tflite"
    )
    assert artefact_path("out", "lc_fp16", "tflite", "int8") == os.path.join(
        "out", "lc_fp16_int8.tflite"
    )
    assert artefact_path("out", "lc", "saved_model") == os.path.join("out", "lc_saved_model")
    assert artefact_path("out", "lc_saved_model", "saved_model") == os.path.join(
        "out", "lc_saved_model"
    )
