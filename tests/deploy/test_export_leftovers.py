"""An export killed mid-write leaves its working folder; the next export there removes it."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest

from keras_minimal.deploy.exporter import export
from keras_minimal.tempfiles import make_owned_dir

pytest.importorskip("onnxruntime")
if keras.backend.backend() != "tensorflow":
    pytest.skip("export runs on the TensorFlow backend", allow_module_level=True)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Writes half an artefact into its working folder, then waits there to be killed.
STUCK_EXPORT = textwrap.dedent(
    """
    import sys, time
    import keras
    from keras_minimal.deploy.exporter import export

    def write_half_then_wait(self, filepath, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"half")
        time.sleep(600)

    keras.Model.export = write_half_then_wait
    inputs = keras.Input((8,))
    export(keras.Model(inputs, keras.layers.Dense(4)(inputs)), sys.argv[1], "onnx", fuse=False)
    """
)


def _half_written_artefacts(folder):
    candidates = [os.path.join(folder, name, "artefact.onnx") for name in os.listdir(folder)]
    return [path for path in candidates if os.path.exists(path)]


def _kill_mid_export(path, timeout=300):
    """Run an export of `path` in a subprocess and SIGKILL it while its artefact is half
    written; returns the working folder it left."""
    process = subprocess.Popen(
        [sys.executable, "-c", STUCK_EXPORT, path],
        cwd=ROOT,
        env=dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3"),
    )
    try:
        deadline = time.monotonic() + timeout
        while not _half_written_artefacts(os.path.dirname(path)):
            assert process.poll() is None, "the export ended before it was killed"
            assert time.monotonic() < deadline, "no half-written artefact appeared"
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    (artefact,) = _half_written_artefacts(os.path.dirname(path))
    return os.path.dirname(artefact)


def test_the_next_export_removes_a_killed_exports_folder_and_keeps_live_ones(tmp_path):
    path = str(tmp_path / "model.onnx")
    left = _kill_mid_export(path)
    assert os.path.basename(left).startswith(".export-") and not os.path.exists(path)
    live = make_owned_dir(str(tmp_path), ".export-")  # this process is alive
    unattributable = tmp_path / ".export-k2j4x_9a"  # the form written before owned names
    unattributable.mkdir()

    inputs = keras.Input((8,))
    model = keras.Model(inputs, keras.layers.Dense(4)(inputs))
    data = np.random.default_rng(0).normal(size=(4, 8)).astype("float32")
    assert export(model, path, "onnx", fuse=False, verification_data=data).passed

    assert not os.path.exists(left)
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["model.onnx", "model.onnx.report.json", os.path.basename(live), unattributable.name]
    )
