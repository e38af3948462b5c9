"""The README's train-on-your-own-folder example runs as written (issue 19 will run them all)."""

import os
import re
import subprocess
import sys

import pytest

from tests.tools.tool_process import ROOT

pytestmark = pytest.mark.slow


def _blocks_after(marker):
    text = open(os.path.join(ROOT, "README.md")).read()
    start = text.index(marker)
    blocks = re.findall(r"```(python|bash)\n(.*?)```", text[start:], flags=re.S)
    return blocks[0][1], blocks[1][1]


def test_the_own_folder_example_trains_as_written(tmp_path):
    python_block, bash_block = _blocks_after("On a folder of your own")
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    subprocess.run(
        [sys.executable, "-c", python_block], cwd=tmp_path, env=env, check=True, timeout=300
    )
    command = bash_block.replace("\\\n", " ").replace(
        "python tools/train.py", f"{sys.executable} {os.path.join(ROOT, 'tools/train.py')}"
    )
    result = subprocess.run(
        command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "warms up for 5 epochs, longer than this 1-epoch run" in result.stderr
    for name in ("final.weights.h5", "final.keras", "final.json"):
        assert (tmp_path / "runs" / "mine" / name).is_file()
