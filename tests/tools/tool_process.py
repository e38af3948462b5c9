"""Run a tool of tools/ in a subprocess, as a user would, and read the one line of a user error."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = ("train", "evaluate", "export", "convert_weights", "demo", "benchmark", "run_tests")
# TensorFlow's native (C++) log lines; some print on import whatever TF_CPP_MIN_LOG_LEVEL.
NATIVE_LOG_LINE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\)|[IWEF]\d{4} \S+\s+\d+ \w+\.cc:\d+\]"
)
# What the tools hide unless --verbose: those, INFO in absl's format (TensorFlow's and tf2onnx's
# Python logging) and TFLite's "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
HIDDEN_LINE = re.compile(
    NATIVE_LOG_LINE.pattern + r"|I\d{4} \S+\s+\d+ \S+:\d+\] |INFO: |fully_quantize: "
)


def hidden_lines(result):
    """The lines of stdout and stderr that the tools hide unless --verbose."""
    lines = (result.stdout + "\n" + result.stderr).splitlines()
    return [line for line in lines if HIDDEN_LINE.match(line)]


def run_python(*args, timeout=600, cwd=ROOT):
    """`python args...` run in `cwd` (the project root) on the TensorFlow backend, with
    TensorFlow's native logging quiet."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3"),
    )


def run_tool(tool, *args, timeout=600, cwd=ROOT):
    """`python tools/<tool>.py args...` run as run_python runs it."""
    return run_python(os.path.join(ROOT, "tools", f"{tool}.py"), *args, timeout=timeout, cwd=cwd)


def error_line(result):
    """The one `error: ...` line of a user error, after checking it is all (and exit status 2):
    TensorFlow's logging is hidden (tools/quiet.py)."""
    lines = result.stderr.splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), (
        f"exit status {result.returncode}, stderr:\n{result.stderr[-3000:]}"
    )
    return lines[0]
