"""Run the test suite on every backend, one pytest run each (KERAS_BACKEND is read at import),
spread over --workers processes (pytest-xdist; a module's tests, and a doc page's blocks,
stay on one worker: tests/xdist_scheduling.py).

python tools/run_tests.py                       # TF: everything; JAX, torch: -m multibackend
python tools/run_tests.py --backends=jax -- -x  # one backend, extra pytest arguments
python tools/run_tests.py --workers=1           # in one process, without pytest-xdist
"""

import importlib.util
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from absl import app, flags  # noqa: E402

from tools.cli import run  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("backends", ["tensorflow", "jax", "torch"], "Backends to test, in order.")
# Most tests are single-threaded Python (building and tracing models) or wait on
# subprocesses, so one worker per core keeps the cores busy; four keep memory in bounds.
flags.DEFINE_integer("workers", min(4, os.cpu_count() or 1), "pytest-xdist worker processes.")

# TensorFlow runs the whole suite; the others run the tests marked multibackend.
SELECTION = {"tensorflow": [], "jax": ["-m", "multibackend"], "torch": ["-m", "multibackend"]}
BACKEND_PACKAGE = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def worker_args(workers):
    if workers == 1:
        return []
    return ["-n", str(workers), "--dist", "loadscope"]


def run_backend(backend, extra_args):
    package = BACKEND_PACKAGE[backend]
    if importlib.util.find_spec(package) is None:
        print(f"[{backend}] {package} is not installed: pip install -e '.[dev]' (and torch).")
        return 1
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    workers = worker_args(FLAGS.workers)
    command = [sys.executable, "-m", "pytest", *workers, *SELECTION[backend], *extra_args]
    print(f"[{backend}] {' '.join(command[1:])}", flush=True)
    return subprocess.call(command, cwd=ROOT, env=env)


def main(argv):
    unknown = [b for b in FLAGS.backends if b not in SELECTION]
    if unknown:
        raise app.UsageError(f"Unknown backend(s) {unknown}; choose from {sorted(SELECTION)}.")
    if FLAGS.workers < 1:
        raise app.UsageError(f"--workers must be at least 1. Received: --workers={FLAGS.workers}")
    if FLAGS.workers > 1 and importlib.util.find_spec("xdist") is None:
        raise app.UsageError(
            "--workers above 1 needs pytest-xdist: pip install -e '.[dev]', or pass --workers=1."
        )
    extra_args = argv[1:]
    results = {}
    for backend in FLAGS.backends:
        start = time.perf_counter()
        results[backend] = (run_backend(backend, extra_args), time.perf_counter() - start)
    print("\nbackend      result  seconds")
    for backend, (code, seconds) in results.items():
        print(f"{backend:<12} {'pass' if code == 0 else 'FAIL':<7} {seconds:7.0f}")
    return 1 if any(code for code, _ in results.values()) else 0


if __name__ == "__main__":
    run(main, quiet_tensorflow=False)  # pytest's own output goes through untouched
