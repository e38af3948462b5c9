"""tools/train.py under faults: killed while writing a checkpoint or a final file, a full disk
at the final weights. Every rerun of the same command cleans up and finishes the run, and the
result equals an undisturbed run's bit for bit."""

import os
import signal
import subprocess
import sys

import h5py
import numpy as np
import pytest

from tests.fault_injection import temporary_files
from tests.tools.tool_process import ROOT
from tests.training.synthetic import tiny_vanillanet_config, write_image_folder

pytestmark = pytest.mark.slow


def _train(data, config, output_dir, fault=None):
    """tools/train.py (3 steps an epoch, 2 epochs, checkpoints at steps 2, 3, 4, 6), with a fault
    armed by tests/fault_injection.py."""
    arguments = [
        "tools/train.py",
        f"--model_config={config}",
        f"--data={data}",
        "--recipe=vanillanet_5,epochs=2,warmup_epochs=1,train_image_size=32,randaugment=none",
        "--batch_size=8",
        "--checkpoint_every_steps=2",
        "--jit_compile=false",
        f"--output_dir={output_dir}",
    ]
    prefix = ["tests/fault_injection.py", fault] if fault else []
    return subprocess.run(
        [sys.executable, *prefix, *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3"),
    )


def _weights(path):
    arrays = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda name, obj: arrays.__setitem__(name, obj[()]) if hasattr(obj, "shape") else None
        )
    return arrays


def test_kills_and_a_full_disk_leave_no_litter_and_the_reruns_finish_bit_exactly(tmp_path):
    data = write_image_folder(str(tmp_path / "data"), classes=3, per_class=8)
    config = tiny_vanillanet_config(str(tmp_path / "model.json"))
    reference, run = tmp_path / "reference", tmp_path / "run"
    result = _train(data, config, reference)
    assert result.returncode == 0, result.stderr[-3000:]
    # --progress=auto, output not a terminal: one line per epoch, no Keras progress bar.
    lines = result.stdout.splitlines()
    assert [line.split()[1] for line in lines if line.startswith("epoch ")] == ["1/2", "2/2"]
    assert not any(line.startswith("Epoch ") for line in lines)

    # 1. Killed while writing the end-of-epoch checkpoint: its temporary file stays behind.
    result = _train(data, config, run, fault="kill:ckpt-0000000003")
    assert result.returncode == -signal.SIGKILL, result.stderr[-3000:]
    checkpoints = run / "checkpoints"
    assert len(temporary_files(checkpoints)) == 1
    assert sorted(os.listdir(checkpoints))[0] == "ckpt-0000000002.npz"

    # 2. Rerun: the leftover goes, training resumes from step 2, then the disk is full at the
    # final weights: one error line naming the file, exit 2, nothing partial.
    result = _train(data, config, run, fault="enospc:final.weights.h5")
    assert result.returncode == 2, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.stderr
    assert errors[0].startswith(f"error: Not enough disk space to write {run}/final.weights.h5")
    assert "Resumed from" in result.stderr
    assert temporary_files(checkpoints) == [] and temporary_files(run) == []
    assert not (run / "final.weights.h5").exists()

    # 3. Rerun of the finished run, killed while it rewrites the final weights.
    result = _train(data, config, run, fault="kill:final.weights.h5")
    assert result.returncode == -signal.SIGKILL, result.stderr[-3000:]
    assert "final.json is missing" in result.stderr
    assert len(temporary_files(run)) == 1

    # 4. Rerun: the leftover goes and the final files are complete, as the reference run's.
    result = _train(data, config, run)
    assert result.returncode == 0, result.stderr[-3000:]
    assert temporary_files(run) == [] and (run / "final.keras").exists()
    for name in ("final.weights.h5", "final_ema.weights.h5"):
        expected, actual = _weights(reference / name), _weights(run / name)
        assert expected.keys() == actual.keys() and len(expected) > 10
        for key in expected:
            np.testing.assert_array_equal(actual[key], expected[key], err_msg=f"{name}:{key}")
