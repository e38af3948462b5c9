import json

import keras
import numpy as np
import pytest

from keras_minimal.applications import PPLCNet_x0_25, VanillaNet
from keras_minimal.deploy import benchmarking
from keras_minimal.deploy.benchmarking import (
    benchmark_model,
    format_rows,
    model_summary,
)
from tests.tools.tool_process import run_tool

pytest.importorskip("onnxruntime")
if keras.backend.backend() != "tensorflow":
    pytest.skip("the runtimes are TensorFlow-based", allow_module_level=True)


def test_rows_for_each_runtime_and_batch():
    model = VanillaNet(
        (8, 16), (2,), classes=3, input_shape=(32, 32, 3), classifier_activation=None
    )
    rows = benchmark_model(
        model,
        ["keras", "onnx", "keras_bf16"],
        batch_sizes=(1, 4),
        runs=2,
        warmup=1,
        throughput_runs=1,
    )
    assert [(r["runtime"], r["batch"]) for r in rows] == [
        ("keras", 1),
        ("keras", 4),
        ("onnx", 1),
        ("onnx", 4),
        ("keras_bf16", 1),
        ("keras_bf16", 4),
    ]
    for row in rows:
        assert row["images_per_s"] == pytest.approx(row["batch"] * 1000 / row["median_ms"])
    assert rows[2]["max_rel_error_vs_keras"] <= 1e-4  # onnx float32
    assert 0 < rows[4]["max_rel_error_vs_keras"] <= 5e-2  # bfloat16 drifts, within bf16 precision
    summary = model_summary(model)
    assert summary["params"] == sum(int(np.prod(v.shape)) for v in model.trainable_variables)


def test_a_failing_runtime_gives_an_error_row_and_the_others_still_run(monkeypatch):
    model = VanillaNet((8, 16), (2,), classes=3, input_shape=(32, 32, 3))
    real_runtime_function = benchmarking.runtime_function

    def onnx_breaks(model, runtime, *args, **kwargs):
        if runtime == "onnx":
            raise RuntimeError("converter crashed")
        return real_runtime_function(model, runtime, *args, **kwargs)

    monkeypatch.setattr(benchmarking, "runtime_function", onnx_breaks)
    rows = benchmark_model(model, ["onnx", "keras"], batch_sizes=(1,), runs=2, warmup=1)
    assert rows[0] == {
        "runtime": "onnx",
        "numerics": "float32",
        "batch": 1,
        "error": "RuntimeError: converter crashed",
    }
    assert rows[1]["runtime"] == "keras" and rows[1]["median_ms"] > 0
    table = format_rows([{"model": "tiny", "graph": "deploy", **row} for row in rows])
    assert "FAILED: RuntimeError: converter crashed" in table


def test_onnx_int8_quantises_pplcnet_with_its_scalar_gemm_biases():
    # tf2onnx folds the SE layers' hard-sigmoid offset into a 0-d Gemm bias, which
    # onnxruntime's static quantiser cannot handle; those Gemms stay in float.
    model = PPLCNet_x0_25(input_shape=(64, 64, 3), classes=10)
    rows = benchmark_model(model, ["onnx_int8"], batch_sizes=(1,), runs=2, warmup=1)
    assert "error" not in rows[0], rows[0].get("error")
    assert rows[0]["numerics"] == "int8" and rows[0]["median_ms"] > 0
    assert rows[0]["max_rel_error_vs_keras"] < 0.5


def test_table_fits_a_reference_label_and_shows_the_ratios():
    row = {"model": "tiny", "graph": "deploy", "batch": 1}
    ours = {**row, "runtime": "onnx", "median_ms": 2.0, "over_reference": {"torch.onnx+ort": 1.1}}
    reference = {
        **row,
        "runtime": "ref:torch.onnx+ort",
        "median_ms": 1.8,
        "before_median_ms": 1.7,
        "after_median_ms": 1.9,
    }
    header, ours_line, reference_line = format_rows([ours, reference]).splitlines()
    batch_end = header.index("batch") + len("batch")
    assert ours_line[:batch_end].endswith("deploy  onnx                    1")
    assert reference_line[:batch_end].endswith("deploy  ref:torch.onnx+ort      1")
    assert ours_line.endswith("  1.10× torch.onnx+ort")
    assert reference_line.endswith("  before 1.70, after 1.90 ms")


@pytest.mark.slow
def test_benchmark_tool_writes_table_json_and_plot(tmp_path):
    output = tmp_path / "bench"
    result = run_tool(
        "benchmark",
        "--models=vanillanet_5",
        "--image_size=32",
        "--runtimes=keras,onnx",
        "--batch_sizes=1",
        "--runs=2",
        "--warmup=1",
        f"--output={output}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads((tmp_path / "bench.json").read_text())["rows"]
    assert {(r["graph"], r["runtime"]) for r in rows} == {
        ("train", "keras"),
        ("train", "onnx"),
        ("deploy", "keras"),
        ("deploy", "onnx"),
    }
    deploy = next(r for r in rows if r["graph"] == "deploy")
    train = next(r for r in rows if r["graph"] == "train")
    assert deploy["gmacs"] < train["gmacs"] and deploy["params"] < train["params"]
    assert (tmp_path / "bench.png").stat().st_size > 1000


@pytest.mark.slow
@pytest.mark.parametrize(
    "flag, message",
    [
        ("--batch_sizes=a", "--batch_sizes takes positive integers, e.g. 1,32. Received: a"),
        ("--batch_sizes=0", "--batch_sizes takes positive integers"),
        ("--runtimes=", "--runtimes is empty: name at least one."),
        ("--runs=0", "flag --runs=0: 0 is not a positive integer"),
    ],
)
def test_benchmark_tool_refuses_bad_flag_values_before_building(flag, message):
    result = run_tool("benchmark", "--models=pplcnet_x0_25", flag)
    assert result.returncode != 0 and message in result.stderr


def test_top1_accuracy_over_fixed_batches():
    from keras_minimal.deploy.benchmarking import top1_accuracy

    labels = np.array([0, 1, 2, 1, 0])
    predicted = np.array([0, 1, 1, 1, 2])

    def one_hot(batch):
        return np.eye(3)[predicted[batch[:, 0, 0, 0].astype(int)]]

    images = np.arange(5, dtype="float32").reshape(5, 1, 1, 1)
    assert top1_accuracy(one_hot, images, labels) == pytest.approx(3 / 5)
    assert top1_accuracy(one_hot, images, labels, batch_size=2) == pytest.approx(3 / 4)


def test_top1_scores_report_agreement_with_float32_apart_from_accuracy():
    from keras_minimal.deploy.benchmarking import top1_scores

    labels = np.array([0, 1, 2, 3])
    float32 = np.eye(4)[[0, 1, 2, 0]]  # wrong on the last image
    # Right where float32 was wrong, wrong on the third image: the same accuracy, and two
    # images of four whose class changed.
    form = np.eye(4)[[0, 1, 1, 3]]
    assert top1_scores(form, labels, float32) == {"top1": 0.75, "top1_agreement": 0.5}
    tied = np.array([[0.5, 0.5, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0]])
    assert top1_scores(tied, labels, float32)["top1_agreement"] == pytest.approx(3.5 / 4)
