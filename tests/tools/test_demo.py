import pytest

from tests.tools.tool_process import run_tool


@pytest.mark.slow
def test_demo_trains_fuses_exports_and_checks_agreement(tmp_path):
    result = run_tool(
        "demo", "--epochs=6", "--warmup_epochs=1", "--latency_runs=3", f"--export_dir={tmp_path}"
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "λ = 1.0" in result.stdout
    assert "top-1 agreement 100.00%" in result.stdout
    assert "deploy graph" in result.stdout and "training graph" in result.stdout
    exported = sorted(p.name for p in tmp_path.iterdir())
    assert exported == sorted(
        [
            "vanillanet_digits.onnx",
            "vanillanet_digits.onnx.report.json",
            "vanillanet_digits.tflite",
            "vanillanet_digits.tflite.report.json",
            "vanillanet_digits_int8.tflite",
            "vanillanet_digits_int8.tflite.report.json",
            "vanillanet_digits_saved_model",
            "vanillanet_digits_saved_model.report.json",
        ]
    )
    assert "FAIL" not in result.stdout
    for runtime in ("saved_model", "tflite", "onnx"):
        assert any(line.startswith(runtime) and "%" in line for line in result.stdout.splitlines())
