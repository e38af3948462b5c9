"""Data parallel on 2 logical CPU devices, in subprocesses (the device count is fixed when
the engine starts): tf.distribute MirroredStrategy and keras.distribution DataParallel."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
pytestmark = pytest.mark.slow


def _worker(mode, tmp_path, backend, **env):
    result = subprocess.run(
        [sys.executable, "-m", "tests.training.distributed_worker", mode, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", **env),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    line = [x for x in result.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT ") :]), result.stderr


def _check_each_example_once_per_epoch(seen):
    replicas = [seen[str(r)] for r in range(2)]
    assert all(len(ids) == 16 for ids in replicas)  # 4 steps × 8 / 2 replicas
    assert not set(replicas[0]) & set(replicas[1])
    assert sorted(replicas[0] + replicas[1]) == list(range(32))


def test_mirrored_strategy_on_two_cpu_devices(tmp_path):
    result, log = _worker("mirrored", tmp_path, "tensorflow")
    assert result["replicas"] == 2 and result["jit"] is False
    assert "XLA (jit_compile) is disabled" in log
    # VanillaNet-5's 3.5e-3 at batch 1024, scaled to the global batch 8.
    assert result["peak_lr"] == pytest.approx(3.5e-3 * 8 / 1024)
    _check_each_example_once_per_epoch(result["seen"])
    assert result["distributed"] == result["seen"]  # what fit feeds each replica
    assert np.isfinite(result["loss"]).all() and len(result["loss"]) == 2


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs jax")
def test_jax_data_parallel_on_two_cpu_devices(tmp_path):
    result, log = _worker(
        "data_parallel", tmp_path, "jax", XLA_FLAGS="--xla_force_host_platform_device_count=2"
    )
    assert result["replicas"] == 2 and result["processes"] == 1
    assert "DataParallel over 2 device(s)" in log
    assert result["peak_lr"] == pytest.approx(3.5e-3 * 8 / 1024)
    _check_each_example_once_per_epoch(result["seen"])
    assert result["kernel_devices"] == 2  # weights replicated on both devices
    assert np.isfinite(result["loss"]).all() and len(result["loss"]) == 2


def test_per_host_sharding_for_two_processes():
    """What each of two JAX processes reads (the 2-process run itself does not complete
    on CPU here; see README): disjoint halves of every epoch, the same number of steps."""
    from keras_minimal.training.data import make_dataset
    from tests.training.distributed_worker import indexed_source

    source = indexed_source()
    hosts = []
    for host in range(2):
        dataset = make_dataset(
            source,
            training=True,
            batch_size=4,
            image_size=32,
            train_crop=False,
            hflip=0.0,
            epochs=1,
            num_hosts=2,
            host_index=host,
        )
        hosts.append([int(x[0, 0, 0]) for images, _ in dataset for x in images.numpy()])
    assert len(hosts[0]) == len(hosts[1]) == 16
    assert sorted(hosts[0] + hosts[1]) == list(range(32))
