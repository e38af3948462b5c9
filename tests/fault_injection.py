"""Faults injected into the atomic file writer (keras_minimal/atomic_files.py).

In-process: `inject(monkeypatch, "enospc", "final.weights.h5")`. In a subprocess:

    python tests/fault_injection.py kill:ckpt-0000000008 tools/train.py --flags...

runs the tool with the fault armed: the first write of a temporary file whose target name
starts with the given prefix writes half of its data, then the process kills itself with
SIGKILL ("kill") or the write raises OSError(ENOSPC) as a full disk does ("enospc").
"""

import errno
import os
import runpy
import signal
import sys

if __name__ == "__main__":
    # Run as a script, sys.path[0] is tests/, whose tools package would hide the project's
    # tools/ (a namespace package): run from the project root instead.
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from keras_minimal import atomic_files  # noqa: E402

FAULTS = ("kill", "enospc")


class FaultyFile:
    """A binary file that fails on its first write, after writing half of the data."""

    def __init__(self, file, fault):
        self._file, self._fault = file, fault

    def write(self, data):
        data = memoryview(data).cast("B")
        self._file.write(data[: len(data) // 2])
        self._file.flush()
        if self._fault == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self._file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._file.close()


def faulty_opener(fault, target_prefix, real_open=atomic_files._open_temporary):
    if fault not in FAULTS:
        raise ValueError(f"fault must be one of {FAULTS}. Received: {fault!r}")

    def open_temporary(path):
        file = real_open(path)
        if os.path.basename(path).startswith(target_prefix):
            return FaultyFile(file, fault)
        return file

    return open_temporary


def inject(monkeypatch, fault, target_prefix):
    monkeypatch.setattr(atomic_files, "_open_temporary", faulty_opener(fault, target_prefix))


def temporary_files(directory):
    """The temporary files of atomic writes in `directory` (leftovers of a fault)."""
    if not os.path.isdir(directory):
        return []
    return sorted(name for name in os.listdir(directory) if ".tmp-" in name)


if __name__ == "__main__":
    fault, target = sys.argv[1].split(":", 1)
    atomic_files._open_temporary = faulty_opener(fault, target)
    script = sys.argv[2]
    sys.argv = [script, *sys.argv[3:]]
    runpy.run_path(script, run_name="__main__")
