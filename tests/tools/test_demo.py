import os
import re

import keras
import numpy as np
import pytest

from keras_minimal.deploy.benchmarking import describe_environment
from keras_minimal.training.digits import load_digits_rgb
from tests.tools.tool_process import run_tool

ARTEFACTS = [
    "vanillanet_digits.onnx",
    "vanillanet_digits.tflite",
    "vanillanet_digits_int8.tflite",
    "vanillanet_digits_saved_model",
]


@pytest.mark.slow
def test_demo_trains_fuses_exports_and_keeps_its_artefacts_in_demo_output(tmp_path):
    # As CI runs it, smaller: 6 epochs (λ reaches 1 at the second), a line every 4 epochs.
    result = run_tool(
        "demo",
        "--epochs=6",
        "--warmup_epochs=1",
        "--latency_runs=3",
        "--print_every=4",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    # Nothing but the report: no TensorFlow logging, no warning.
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert "λ = 1.0" in result.stdout
    assert "top-1 agreement 100.00%" in result.stdout
    assert "FAIL" not in result.stdout

    # Training: the first epoch, every 4th and the last, with the ETA after the first (which
    # also compiles); no Keras lines.
    epoch_lines = [line for line in lines if line.startswith("epoch ")]
    assert [line.split()[1] for line in epoch_lines] == ["1/6", "4/6", "6/6"]
    assert all(re.search(r"\d+:\d\d, ETA \d+:\d\d$", line) for line in epoch_lines[1:])
    assert not any(line.startswith("Epoch ") for line in lines)

    # Kept in ./demo_output/: the trained model, every artefact and its parity report.
    output = tmp_path / "demo_output"
    assert sorted(p.name for p in output.iterdir()) == sorted(
        ["vanillanet_digits.keras"] + ARTEFACTS + [f"{a}.report.json" for a in ARTEFACTS]
    )
    for artefact in ARTEFACTS:
        assert os.path.join("demo_output", artefact) in lines
    assert f"trained model: {os.path.join('demo_output', 'vanillanet_digits.keras')}" in lines

    # The summary: every runtime's accuracy and latency, the machine, where the files are.
    summary = lines[lines.index(next(line for line in lines if line.startswith("summary: "))) :]
    rows = {tuple(line.split()[:2]): line.split() for line in summary[2:8]}
    assert sorted(rows) == [
        ("keras", "deploy"),
        ("keras", "training"),
        ("onnx", "vanillanet_digits.onnx"),
        ("saved_model", "vanillanet_digits_saved_model"),
        ("tflite", "vanillanet_digits.tflite"),
        ("tflite", "vanillanet_digits_int8.tflite"),
    ]
    environment = describe_environment()
    assert f"on {environment['cpu']}, {environment['cores']} cores" in summary[8]
    assert os.path.samefile(summary[9].split(" are in ")[1], output)

    # The kept model is the trained one: its test accuracy is the one in the summary.
    model = keras.saving.load_model(output / "vanillanet_digits.keras")
    assert model.act_learn == 1.0
    _, (x_test, y_test) = load_digits_rgb(32, seed=0)
    accuracy = np.mean(model.predict(x_test, verbose=0).argmax(1) == y_test)
    assert f"{accuracy:.2%}" == rows[("keras", "training")][-2]
