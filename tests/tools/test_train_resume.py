"""kill -9 during an epoch, restart the same command: the final weights equal an
uninterrupted run's bit for bit (CPU, deterministic input order)."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.training.synthetic import tiny_vanillanet_config, write_image_folder

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
pytestmark = pytest.mark.slow


def _command(data, config, output_dir):
    return [
        sys.executable,
        "tools/train.py",
        f"--model_config={config}",
        f"--data={data}",
        # The paper recipe (LAMB, layer-free, BCE, MixUp/CutMix, random erasing, EMA,
        # dropout, λ), shortened; RandAugment's draws come from keras-cv's stateful
        # generators, so it is the one augmentation an exact-resume run leaves out.
        "--recipe=vanillanet_5,epochs=4,warmup_epochs=1,train_image_size=32,randaugment=none",
        "--batch_size=8",
        "--checkpoint_every_steps=2",
        "--jit_compile=false",
        "--progress=epoch",
        f"--output_dir={output_dir}",
    ]


def _env():
    return dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")


def _run(command):
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, env=_env()
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def _epoch_lines(result):
    return [line.split()[1] for line in result.stdout.splitlines() if line.startswith("epoch ")]


def _weights(path):
    import h5py

    arrays = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda name, obj: arrays.__setitem__(name, obj[()]) if hasattr(obj, "shape") else None
        )
    return arrays


def test_kill_during_an_epoch_then_resume_is_bit_exact(tmp_path):
    data = write_image_folder(str(tmp_path / "data"), classes=3, per_class=16)
    config = tiny_vanillanet_config(str(tmp_path / "model.json"))
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    result = _run(_command(data, config, reference))
    assert list((reference / "logs").rglob("events.out.tfevents*"))  # TensorBoard logs
    assert _epoch_lines(result) == ["1/4", "2/4", "3/4", "4/4"]

    process = subprocess.Popen(
        _command(data, config, resumed),
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoints = resumed / "checkpoints"
    deadline = time.time() + 300
    # 6 steps per epoch: wait for the mid-epoch checkpoint at step 8 (epoch 2, step 2).
    while time.time() < deadline and process.poll() is None:
        if checkpoints.is_dir() and any(
            int(p.name[5:15]) >= 8 for p in checkpoints.glob("ckpt-*.npz")
        ):
            break
        time.sleep(0.02)
    assert process.poll() is None, "training finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (resumed / "final.weights.h5").exists()

    result = _run(_command(data, config, resumed))
    assert "Resumed from" in result.stderr
    # --progress=epoch: one line per epoch, from the one it resumed in to the last.
    lines = _epoch_lines(result)
    assert lines and lines == ["1/4", "2/4", "3/4", "4/4"][-len(lines) :]

    for name in ("final.weights.h5", "final_ema.weights.h5"):
        expected, actual = _weights(reference / name), _weights(resumed / name)
        assert expected.keys() == actual.keys() and len(expected) > 10
        for key in expected:
            np.testing.assert_array_equal(actual[key], expected[key], err_msg=f"{name}:{key}")
