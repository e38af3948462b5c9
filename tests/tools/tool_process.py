"""Run a tool of tools/ in a subprocess, as a user would, and read the one line of a user error."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = ("train", "evaluate", "export", "convert_weights", "demo", "benchmark", "run_tests")
# TensorFlow's native (C++) log lines, which it prints on import whatever TF_CPP_MIN_LOG_LEVEL.
NATIVE_LOG_LINE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\)|[IWEF]\d{4} \S+\s+\d+ \w+\.cc:\d+\]"
)


def run_tool(tool, *args, timeout=600):
    """`python tools/<tool>.py args...` from the project root on the TensorFlow backend."""
    return subprocess.run(
        [sys.executable, os.path.join("tools", f"{tool}.py"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3"),
    )


def error_line(result):
    """The one `error: ...` line of a user error, after checking it is all (and exit status 2)."""
    lines = [line for line in result.stderr.splitlines() if not NATIVE_LOG_LINE.match(line)]
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), (
        f"exit status {result.returncode}, stderr:\n{result.stderr[-3000:]}"
    )
    return lines[0]
