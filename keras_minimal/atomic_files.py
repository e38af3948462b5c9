"""Files written whole or not at all, and a full disk reported as one clear error.

`write_atomically` writes into an owned temporary file next to the target
(`<name>.tmp-<host>-<pid>-<random>`, see tempfiles.py), fsyncs it, renames it over the target
and fsyncs the folder: a kill at any moment leaves the previous file or the new one, never a
torn one, and the temporary file of a killed writer is recognisable as such
(`remove_dead_leftovers`). Any failure removes the temporary file; a full disk becomes
`DiskFullError`, which names the file and the space it needs.
"""

import contextlib
import errno
import os
import shutil

from keras_minimal.tempfiles import owned_name, remove_dead_leftovers

_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def temporary_prefix(name):
    """The prefix of the temporary files that write_atomically uses for a file `name`."""
    return f"{name}.tmp-"


class DiskFullError(OSError):
    """The disk (or quota) filled up while a file was written; nothing partial was left."""

    def __init__(self, path, needed, free):
        self.needed, self.free = needed, free
        directory = os.path.dirname(os.path.abspath(path))
        if needed is not None and free is not None and needed > free:
            action = f"free at least {format_size(needed - free)}"
        else:
            action = "free some space (other writers may be filling the disk)"
        self.message = (
            f"Not enough disk space to write {path}: it needs about {format_size(needed)} "
            f"and {format_size(free)} are free in {directory}. {action[0].upper()}{action[1:]}, "
            "then run the same command again to finish; earlier files are intact and nothing "
            "partial was left."
        )
        super().__init__(errno.ENOSPC, self.message, path)

    def __str__(self):
        return self.message


def format_size(size):
    if size is None:
        return "an unknown amount"
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def _open_temporary(path):
    return open(path, "xb")


def _free_space(directory):
    try:
        return shutil.disk_usage(directory).free
    except OSError:
        return None


def write_atomically(path, write, size=None):
    """Write a file whole or not at all.

    Args:
        path: the target file (its folder is created if missing).
        write: `write(file)` writes the content into an open binary file, or bytes to write.
        size: the content's size in bytes when `write` is a function (for the message of a
            full disk; bytes know their size).

    Raises:
        DiskFullError: no space was left; the target and its folder are as before.
    """
    if isinstance(write, (bytes, bytearray, memoryview)):
        content = write
        size = len(content)

        def write(file):
            file.write(content)

    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, owned_name(temporary_prefix(os.path.basename(path))))
    try:
        with _open_temporary(tmp) as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if isinstance(error, OSError) and error.errno in _DISK_FULL:
            raise DiskFullError(path, size, _free_space(directory)) from None
        raise
    _sync_directory(directory)
    return path


def _sync_directory(directory):
    if os.name == "nt":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_temporary_leftovers(directory, name_pattern):
    """Remove the temporary files that killed write_atomically calls left for files matching
    `name_pattern` (an fnmatch pattern such as "ckpt-*.npz") in `directory`."""
    return remove_dead_leftovers(directory, temporary_prefix(name_pattern))
