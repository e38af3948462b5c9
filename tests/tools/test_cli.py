"""tools/cli.py: help exits 0; a user error is one `error:` line and exit 2; a bug a traceback."""

import errno
import re
import subprocess
import sys
import textwrap

import pytest
from absl import app

from keras_minimal.weights import WeightsDownloadError
from keras_minimal.weights.readers import CorruptCheckpointError
from tests.tools.tool_process import ROOT, TOOLS, error_line, run_tool
from tools.cli import is_user_error, one_line

HELP_FLAGS = ("--help", "-h", "-?", "--helpshort", "--helpfull")


@pytest.mark.parametrize("tool", TOOLS)
def test_help_prints_the_tool_docstring_on_stdout_and_exits_0(tool):
    with open(f"{ROOT}/tools/{tool}.py") as f:
        first_docstring_line = f.readline().removeprefix("r").strip('"\n')
    for flag in HELP_FLAGS:
        result = run_tool(tool, flag, timeout=60)
        assert (result.returncode, result.stderr) == (0, ""), (flag, result.stderr)
        assert result.stdout.startswith(first_docstring_line) and "flags:" in result.stdout
        # An example continued with "\" keeps its line break (no run of spaces mid-line).
        assert not re.search(r"\S {4,}--", result.stdout), result.stdout[:2000]


def test_arguments_after_a_double_dash_are_not_help_flags():
    # run_tests.py hands what follows -- to pytest: -h stays pytest's, the tool's help is not shown.
    result = run_tool("run_tests", "--backends=", "--", "-h", timeout=60)
    assert result.returncode == 0 and "Run the test suite" not in result.stdout


@pytest.mark.parametrize("tool", TOOLS)
def test_an_unknown_flag_is_one_error_line(tool):
    result = run_tool(tool, "--no_such_flag=1", timeout=60)
    assert error_line(result) == (
        "error: Unknown command line flag 'no_such_flag' (--help lists the flags)"
    )
    assert result.stdout == ""


@pytest.mark.parametrize(
    "tool, args, message",
    [
        (
            "convert_weights",
            [],
            "error: flag --model=None: Flag --model must have a value other than None. "
            "flag --source=None: Flag --source must have a value other than None. "
            "flag --output=None: Flag --output must have a value other than None. "
            "(--help lists the flags)",
        ),
        (
            "train",
            ["--model=vanillanet_5", "--data=x", "--output_dir=y", "--strategy=horovod"],
            "error: flag --strategy=horovod: value should be one of "
            "<auto|none|mirrored|data_parallel> (--help lists the flags)",
        ),
        (
            "benchmark",
            ["--runs=many"],
            "error: flag --runs=many: invalid literal for int() with base 10: 'many' "
            "(--help lists the flags)",
        ),
        (
            "run_tests",
            ["--workers=0"],
            "error: --workers must be at least 1. Received: --workers=0",
        ),
    ],
)
def test_missing_and_bad_flag_values_are_one_error_line(tool, args, message):
    assert error_line(run_tool(tool, *args, timeout=60)) == message


@pytest.mark.slow
def test_train_with_a_missing_data_folder_is_one_error_line(tmp_path):
    missing = tmp_path / "no_such_folder"
    result = run_tool(
        "train", "--model=pplcnet_x0_25", f"--data={missing}", f"--output_dir={tmp_path / 'run'}"
    )
    assert f"Received: '{missing}'" in error_line(result)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_train_with_a_bad_recipe_override_is_one_error_line(tmp_path):
    result = run_tool(
        "train",
        "--model=pplcnet_x0_25",
        f"--data={tmp_path}",
        "--recipe=paper,nosuchkey=1",
        f"--output_dir={tmp_path / 'run'}",
    )
    assert error_line(result).startswith("error: Unknown recipe field(s) ['nosuchkey']. Fields: ")
    assert not (tmp_path / "run").exists()


def _run_main_raising(tmp_path, error):
    """A tool whose main raises `error` (a Python expression), run through tools.cli.run."""
    script = tmp_path / "tool.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import errno, sys
            sys.path.insert(0, {ROOT!r})
            from absl import app
            from tools.cli import run

            def main(argv):
                print("started")
                raise {error}

            run(main)
            """
        )
    )
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "error, message",
    [
        (
            "OSError(errno.ENOSPC, 'No space left on device', '/runs/final.weights.h5')",
            "error: [Errno 28] No space left on device: '/runs/final.weights.h5'",
        ),
        (
            "ValueError('The checkpoint does not match:\\nMissing: a.\\nUnexpected: b')",
            "error: The checkpoint does not match: Missing: a. Unexpected: b",
        ),
        ("app.UsageError('Pass exactly one of --model and --model_config.')", None),
        ("TypeError('')", "error: TypeError"),
    ],
)
def test_a_user_error_in_main_is_one_error_line(tmp_path, error, message):
    result = _run_main_raising(tmp_path, error)
    line = error_line(result)
    assert line == (message or "error: Pass exactly one of --model and --model_config.")
    assert result.stdout == "started\n"


@pytest.mark.parametrize(
    "error, last_line",
    [("RuntimeError('a bug')", "RuntimeError: a bug"), ("KeyError('w')", "KeyError: 'w'")],
)
def test_a_bug_in_main_keeps_its_traceback(tmp_path, error, last_line):
    result = _run_main_raising(tmp_path, error)
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1] == last_line


@pytest.mark.parametrize(
    "error",
    [
        app.UsageError("x"),
        ValueError("x"),
        TypeError("x"),
        FileNotFoundError(errno.ENOENT, "x"),
        IsADirectoryError(errno.EISDIR, "x"),
        PermissionError(errno.EACCES, "x"),
        OSError(errno.ENOSPC, "x"),
        CorruptCheckpointError("x"),
        WeightsDownloadError("x"),
    ],
)
def test_user_errors(error):
    assert is_user_error(error)


@pytest.mark.parametrize(
    "error",
    [RuntimeError("x"), KeyError("x"), AssertionError("x"), OSError(errno.EIO, "x"), OSError("x")],
)
def test_other_errors_are_bugs(error):
    assert not is_user_error(error)


def test_one_line_folds_line_breaks():
    assert (
        one_line("Failed (1): cmd\n\n  Traceback\n  boom\n") == "Failed (1): cmd; Traceback; boom"
    )
    assert one_line("Missing:\na.\nb") == "Missing: a. b"
    assert one_line("") == ""
