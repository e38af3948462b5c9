"""Owned temporary names: only leftovers of this host's dead processes are removed."""

import os
import socket
import subprocess
import sys

import pytest

from keras_minimal import tempfiles


@pytest.fixture(scope="module")
def dead_pid():
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(timeout=60)
    pid = process.pid
    assert not tempfiles.is_alive(pid)
    return pid


def _owned(pid, prefix=".export-", host=None):
    return f"{prefix}{host or tempfiles.host_tag()}-{pid}-abc123"


def test_an_owned_folder_names_this_host_and_process(tmp_path):
    path = tempfiles.make_owned_dir(str(tmp_path), ".export-")
    name = os.path.basename(path)
    assert os.path.isdir(path) and os.listdir(path) == []
    assert name.startswith(f".export-{tempfiles.host_tag()}-{os.getpid()}-")
    assert tempfiles.owned_name("ckpt.npz.tmp-").startswith(
        f"ckpt.npz.tmp-{tempfiles.host_tag()}-{os.getpid()}-"
    )
    assert tempfiles.owned_name("x-") != tempfiles.owned_name("x-")


def test_only_dead_processes_leftovers_of_this_host_are_removed(tmp_path, dead_pid):
    dead_folder = tmp_path / _owned(dead_pid)
    (dead_folder / "saved_model" / "variables").mkdir(parents=True)
    (dead_folder / "saved_model" / "variables" / "half").write_bytes(b"half")
    dead_file = tmp_path / _owned(dead_pid)[:-1]
    dead_file.write_bytes(b"half")
    kept = [
        tempfiles.make_owned_dir(str(tmp_path), ".export-"),  # this live process'
        str(tmp_path / _owned(dead_pid, host="another-machine")),
        str(tmp_path / ".export-k2j4x_9a"),  # the form used before owned names
        str(tmp_path / _owned(dead_pid, prefix="model.onnx")),  # not an export's folder
        str(tmp_path / _owned(dead_pid, prefix="ckpt-0000000004.npz.tmp-")),
    ]
    for path in kept[1:]:
        os.mkdir(path)
    removed = tempfiles.remove_dead_leftovers(str(tmp_path), ".export-")
    assert sorted(removed) == sorted([str(dead_folder), str(dead_file)])
    assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(p) for p in kept)
    # The checkpoint writer's pattern takes its own leftovers and nothing else.
    assert tempfiles.remove_dead_leftovers(str(tmp_path), "ckpt-*.npz.tmp-") == [kept[-1]]


def test_another_host_whose_name_ends_like_this_one_is_not_this_host(
    tmp_path, dead_pid, monkeypatch
):
    monkeypatch.setattr(socket, "gethostname", lambda: "node-1")
    (tmp_path / _owned(dead_pid, host="gpu-node-1")).mkdir()
    assert tempfiles.remove_dead_leftovers(str(tmp_path), ".export-") == []
    (tmp_path / _owned(dead_pid, host="node-1")).mkdir()
    assert tempfiles.remove_dead_leftovers(str(tmp_path), ".export-") == [
        str(tmp_path / _owned(dead_pid, host="node-1"))
    ]


def test_a_host_name_is_made_safe_for_a_file_name(tmp_path, monkeypatch):
    monkeypatch.setattr(socket, "gethostname", lambda: "a/b c")
    path = tempfiles.make_owned_dir(str(tmp_path), ".export-")
    assert os.path.dirname(path) == str(tmp_path)
    assert os.path.basename(path).startswith(f".export-a_b_c-{os.getpid()}-")


def test_a_process_of_another_user_counts_as_alive(tmp_path, dead_pid, monkeypatch):
    def refused(pid, signal):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "kill", refused)
    (tmp_path / _owned(dead_pid)).mkdir()
    assert tempfiles.remove_dead_leftovers(str(tmp_path), ".export-") == []
    assert os.listdir(tmp_path) == [_owned(dead_pid)]


def test_a_pattern_ending_in_a_wildcard_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"end with a literal separator.*Received: '.export-\*'"):
        tempfiles.remove_dead_leftovers(str(tmp_path), ".export-*")


def test_a_missing_folder_has_nothing_to_remove(tmp_path):
    assert tempfiles.remove_dead_leftovers(str(tmp_path / "missing"), ".export-") == []
