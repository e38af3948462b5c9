"""tools/quiet.py: TensorFlow's logging hidden from every tool unless --verbose; everything that
Python writes (the error line, tracebacks, the library's warnings) still shown."""

import re
import subprocess
import sys

import keras
import pytest

from tests.tools.tool_process import (
    NATIVE_LOG_LINE,
    ROOT,
    TOOLS,
    error_line,
    hidden_lines,
    run_tool,
)

TENSORFLOW_TOOLS = [tool for tool in TOOLS if tool != "run_tests"]

# A tool whose main writes what TensorFlow writes (a native line on descriptor 2, INFO of its
# Python loggers) and what must stay visible, then ends as argv[1] says.
TOOL = """
import logging, os, sys, warnings
sys.path.insert(0, {root!r})
from absl import app, logging as absl_logging
from tools.cli import run

def main(argv):
    os.write(2, b"I0000 00:00:1796460529.619485   12158 port.cc:153] native chatter\\n")
    logging.getLogger("tensorflow").info("tensorflow info")
    logging.getLogger("tf2onnx.tfonnx").info("tf2onnx info")
    absl_logging.info("absl info")
    logging.getLogger("keras_minimal.training.data.failures").warning("2 images failed to load")
    logging.getLogger("tensorflow").warning("tensorflow warning")
    warnings.warn("a warning of ours")
    print("printed to stderr", file=sys.stderr)
    print("printed to stdout")
    end = argv[1]
    if end == "user_error":
        raise ValueError("bad value. Received: 3")
    if end == "bug":
        raise RuntimeError("a bug")
    if end == "abort":
        os.abort()

run(main)
"""

SHOWN = ["2 images failed to load", "tensorflow warning", "a warning of ours", "printed to stderr"]
HIDDEN = ["native chatter", "tensorflow info", "tf2onnx info", "absl info"]


def _run_tool(tmp_path, *args):
    script = tmp_path / "tool.py"
    script.write_text(TOOL.format(root=ROOT))
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("end", ["return", "user_error", "bug"])
def test_python_output_is_shown_and_tensorflow_logging_hidden(tmp_path, end):
    result = _run_tool(tmp_path, end)
    assert result.stdout == "printed to stdout\n"
    for text in SHOWN:
        assert text in result.stderr, result.stderr
    for text in HIDDEN:
        assert text not in result.stderr, result.stderr
    last_line = result.stderr.rstrip().splitlines()[-1]
    if end == "user_error":
        assert (result.returncode, last_line) == (2, "error: bad value. Received: 3")
    elif end == "bug":
        assert (result.returncode, last_line) == (1, "RuntimeError: a bug")
        assert "Traceback (most recent call last)" in result.stderr
    else:
        assert result.returncode == 0


def test_verbose_shows_tensorflow_logging_too(tmp_path):
    result = _run_tool(tmp_path, "--verbose", "return")
    assert result.returncode == 0
    for text in SHOWN + HIDDEN:
        assert text in result.stderr, result.stderr


def test_a_crash_in_native_code_is_still_reported_with_where_it_happened(tmp_path):
    result = _run_tool(tmp_path, "abort")
    assert result.returncode < 0
    assert "Fatal Python error: Aborted" in result.stderr
    assert re.search(r'File ".*tool\.py", line \d+ in main', result.stderr), result.stderr


@pytest.mark.parametrize("tool", TENSORFLOW_TOOLS)
def test_help_lists_verbose(tool):
    result = run_tool(tool, "--help", timeout=60)
    assert result.returncode == 0 and "--[no]verbose:" in result.stdout


def test_run_tests_hides_nothing_so_has_no_verbose_flag():
    # Its pytest processes inherit descriptor 2: hiding it would hide their errors.
    line = error_line(run_tool("run_tests", "--verbose", timeout=60))
    assert line.startswith("error: Unknown command line flag 'verbose'")


@pytest.mark.slow
def test_an_export_shows_no_tensorflow_logging_unless_verbose(tmp_path):
    inputs = keras.Input((8, 8, 3))
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(inputs))
    keras_file = tmp_path / "small.keras"
    keras.Model(inputs, outputs).save(keras_file)
    # TFLite (converter and interpreter notices) and ONNX (tf2onnx INFO) after TF's import.
    args = [f"--keras_file={keras_file}", "--nofuse", "--formats=tflite,onnx", "--name=small"]
    quiet = run_tool("export", *args, f"--output={tmp_path / 'quiet'}")
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    assert hidden_lines(quiet) == [] and quiet.stderr == ""
    assert (tmp_path / "quiet" / "small.tflite").is_file()
    assert (tmp_path / "quiet" / "small.onnx").is_file()

    verbose = run_tool("export", *args, f"--output={tmp_path / 'verbose'}", "--verbose")
    assert verbose.returncode == 0, verbose.stderr[-3000:]
    assert any(NATIVE_LOG_LINE.match(line) for line in verbose.stderr.splitlines())
    assert any("tfonnx.py" in line for line in hidden_lines(verbose))
