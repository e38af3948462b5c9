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


def test_adaptive_gradient_clipping_bounds_the_mirrored_update(tmp_path):
    # Each replica holds half the gradient and the optimizer sums them: the clipping must
    # see the sum, or the update can reach 2·λ·‖W‖.
    from tests.training.agc_models import kind_of, unit_norms

    result, _ = _worker("agc_mirrored", tmp_path, "tensorflow")
    mirrored, single = result["2"], result["1"]
    assert mirrored["before"] == single["before"]
    for path, step in mirrored["step"].items():
        step = np.asarray(step)
        np.testing.assert_allclose(step, single["step"][path], rtol=1e-4, atol=1e-9)
        if path.startswith("predictions/"):
            continue  # excluded from clipping by default
        kind = kind_of(path)
        bound = 1e-4 * np.maximum(unit_norms(np.asarray(mirrored["before"][path]), kind), 1e-3)
        # 1 %: the step is a difference of float32 weights (the defect gave 1.3–1.6×).
        assert np.all(unit_norms(step, kind) <= bound * 1.01), path


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


def _free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs jax")
def test_jax_data_parallel_across_two_processes_on_localhost(tmp_path):
    """keras.distribution.initialize on localhost: 2 processes × 1 CPU device."""
    port = str(_free_port())
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("XLA_FLAGS", None)
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.training.distributed_worker",
                "multiprocess",
                str(tmp_path),
                str(i),
                port,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, out[-2000:] + err[-3000:]
        line = [x for x in out.splitlines() if x.startswith("RESULT ")][-1]
        results.append(json.loads(line[len("RESULT ") :]))
    assert [r["process"] for r in results] == [0, 1]
    assert all(r["processes"] == 2 and r["replicas"] == 2 for r in results)
    assert all(r["kernel_devices"] == 2 for r in results)
    # Each process reads its own half of every epoch (4 per-host batches of 4 per epoch).
    hosts = [r["seen"]["0"] for r in results]
    assert len(hosts[0]) == len(hosts[1]) == 16
    assert sorted(hosts[0] + hosts[1]) == list(range(32))
    # One SPMD program: both processes report the same global losses.
    assert results[0]["loss"] == results[1]["loss"]
    assert os.path.exists(tmp_path / "0" / "final_ema.weights.h5")
    assert not os.path.exists(tmp_path / "1" / "final.weights.h5")  # host 0 writes


def test_per_host_sharding_for_two_processes():
    """What each of two hosts reads: disjoint halves of every epoch, the same number of steps."""
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
