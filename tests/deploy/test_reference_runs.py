"""keras_minimal/deploy/reference_runs.py: comparison commands timed before and after ours."""

import json
import sys

import pytest

from keras_minimal.deploy.reference_runs import (
    check_reference_commands,
    fill_placeholders,
    run_reference_command,
    time_between_references,
)
from tests.fake_reference import fake_reference_command, logged

VALUES = {"model": "tiny", "batch": 4, "image_size": 32, "runs": 5, "warmup": 1}
PLACEHOLDERS = "--model={model} --batch={batch} --image_size={image_size} --runs={runs}"


def test_reference_command_protocol():
    result = run_reference_command(
        f"{sys.executable} -c \"print('warming up'); print('{{\\\"median_ms\\\": 3.5}}')\""
    )
    assert result == {"median_ms": 3.5}
    with pytest.raises(RuntimeError, match="printed no JSON line"):
        run_reference_command(f"{sys.executable} -c \"print('nothing')\"")
    with pytest.raises(RuntimeError, match="printed no positive median_ms"):
        run_reference_command(f'{sys.executable} -c "print(\'{{\\"mean_ms\\": 3.5}}\')"')
    with pytest.raises(RuntimeError, match=r"Reference command failed \(3\)"):
        run_reference_command(f'{sys.executable} -c "import sys; sys.exit(3)"')


def test_placeholders_are_filled_and_other_braces_kept():
    command = "python -c \"print({'a': 1})\" " + PLACEHOLDERS + " --warmup={warmup}"
    assert fill_placeholders(command, **VALUES) == (
        "python -c \"print({'a': 1})\" --model=tiny --batch=4 --image_size=32 --runs=5 --warmup=1"
    )


def test_each_reference_runs_before_and_after_ours_and_gives_our_rows_their_ratio(tmp_path):
    log = tmp_path / "calls.log"

    def measure():
        with open(log, "a") as f:
            f.write(json.dumps("ours") + "\n")
        return [
            {"model": "tiny", "runtime": "onnx", "batch": 4, "median_ms": 30.0},
            {"model": "tiny", "runtime": "tflite", "batch": 4, "error": "RuntimeError: broke"},
        ]

    references = [("fake", fake_reference_command(log, PLACEHOLDERS))]
    rows = time_between_references(measure, references, **VALUES)

    filled = ["--model=tiny", "--batch=4", "--image_size=32", "--runs=5"]
    assert logged(log) == [filled, "ours", filled]
    onnx, failed, reference = rows
    # The fake's median is 2 ms × its line in the log: 2 ms before ours, 6 ms after.
    assert reference["runtime"] == "ref:fake"
    assert (reference["before_median_ms"], reference["after_median_ms"]) == (2.0, 6.0)
    assert reference["median_ms"] == 4.0
    assert reference["images_per_s"] == 4 * 1000.0 / 4.0
    assert (reference["model"], reference["batch"], reference["image_size"]) == ("tiny", 4, 32)
    assert onnx["over_reference"] == {"fake": 30.0 / 4.0}
    assert "over_reference" not in failed


def test_a_reference_that_times_another_batch_is_refused(tmp_path):
    log = tmp_path / "calls.log"
    references = [("fake", fake_reference_command(log, "--batch=1"))]
    with pytest.raises(ValueError, match=r"--reference fake timed batch '1', to be compared with "):
        time_between_references(lambda: pytest.fail("ran ours"), references, **VALUES)
    assert len(logged(log)) == 1  # refused after the first run, before ours


def test_a_command_without_a_placeholder_for_several_values_is_refused():
    references = [("torch", "python ref.py --model={model}")]
    check_reference_commands(references, ["a", "b"], [1])
    with pytest.raises(ValueError, match=r"each batch of \[1, 32\] but its command has no"):
        check_reference_commands(references, ["a"], [1, 32])
    with pytest.raises(ValueError, match=r"each model of \['a', 'b'\] but its command has no"):
        check_reference_commands([("torch", "python ref.py --batch={batch}")], ["a", "b"], [1])
