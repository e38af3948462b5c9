"""Run one documentation block as a reader would: from a working folder, in a fresh process.

Python blocks run in a fresh interpreter, shell blocks with `bash -eo pipefail` (a failing
command fails the block), where `python` is this interpreter. The working folder holds a
link to the project's tools/ and benchmarks/, so that `python tools/train.py ...` works as
written from the project root; the project root is on PYTHONPATH and KERAS_HOME is a folder
of the page's own.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.doc_blocks import ROOT

TAIL = 4000


class DocBlockFailed(AssertionError):
    """A documented block (or its setup) exited with an error or ran past its timeout."""


def prepare_page_folder(folder):
    """`folder`/work (the blocks' working folder), `folder`/keras_home, `folder`/bin/python."""
    folder = Path(folder)
    (folder / "work").mkdir(parents=True, exist_ok=True)
    (folder / "keras_home").mkdir(exist_ok=True)
    (folder / "bin").mkdir(exist_ok=True)
    (folder / "blocks").mkdir(exist_ok=True)
    for scripts in ("tools", "benchmarks"):
        link = folder / "work" / scripts
        if not link.exists():
            link.symlink_to(ROOT / scripts, target_is_directory=True)
    python = folder / "bin" / "python"
    # A script rather than a link: a virtual environment is found from the path it runs as.
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    return folder


def block_environment(folder, extra=None):
    folder = Path(folder)
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return dict(
        os.environ,
        KERAS_BACKEND="tensorflow",
        TF_CPP_MIN_LOG_LEVEL="3",
        PYTHONPATH=path,
        KERAS_HOME=str(folder / "keras_home"),
        PATH=f"{folder / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        MPLBACKEND="Agg",
        **(extra or {}),
    )


def run_command(command, folder, env, timeout, what):
    """Run `command` in `folder`/work; DocBlockFailed with the output's tail if it fails.
    Children are killed with it on a timeout (the process runs in its own session)."""
    process = subprocess.Popen(
        command,
        cwd=Path(folder) / "work",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise DocBlockFailed(
            f"{what} ran past its {timeout:.0f} s timeout.\n{_tails(stdout, stderr)}"
        ) from None
    if process.returncode != 0:
        raise DocBlockFailed(f"{what} exited {process.returncode}.\n{_tails(stdout, stderr)}")
    return stdout


def _tails(stdout, stderr):
    return f"--- stdout (tail) ---\n{stdout[-TAIL:]}\n--- stderr (tail) ---\n{stderr[-TAIL:]}"


def run_setups(block, folder, env):
    """All of `block`'s setups in one process (each process pays for importing TensorFlow)."""
    if block.setups:
        command = [sys.executable, "-m", "tests.doc_setups", json.dumps(block.setups)]
        run_command(command, folder, env, block.timeout, f"{block.id}: setups {block.setups}")


def run_block(block, folder):
    """Run `block`'s setups, then the block (replace directives applied) in `folder`."""
    env = block_environment(folder, block.environment)
    run_setups(block, folder, env)
    source = block.source_as_run()
    if block.language == "python":
        script = Path(folder) / "blocks" / f"{block.page.replace('/', '_')}_line{block.line}.py"
        script.write_text(source)
        command = [sys.executable, str(script)]
    else:
        command = ["bash", "-eo", "pipefail", "-c", source]
    return run_command(
        command, folder, env, block.timeout, f"{block.id} ({block.language}):\n{source}"
    )
