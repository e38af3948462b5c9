"""Temporary files and folders named after their owner, so that a later run can remove those
left by a killed writer without touching anyone else's.

An owned name is `<prefix><host>-<pid>-<random>`: the host because output folders may be
shared between machines (a pid means nothing on another host), the random part so that one
process can hold several. `remove_dead_leftovers` removes only names of this host whose
process is gone; names of other hosts, of live processes and names in any other form (such
as those written before this scheme) are left alone.
"""

import fnmatch
import os
import re
import secrets
import shutil
import socket
import tempfile

# The random part (tempfile's or owned_name's) never holds "-": a name ends "-<pid>-<random>".
_OWNED_TAIL = re.compile(r"^(?P<stem>.*)-(?P<pid>[0-9]+)-[a-z0-9_]+$")
_HOST_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]")


def host_tag():
    """This machine's name as it appears in owned names (characters safe in a file name)."""
    return _HOST_CHARACTERS.sub("_", socket.gethostname()) or "localhost"


def owned_prefix(prefix):
    """`prefix` followed by this process' owner tag `<host>-<pid>-`; give it to tempfile's
    mkdtemp/mkstemp/NamedTemporaryFile, which add the random part."""
    return f"{prefix}{host_tag()}-{os.getpid()}-"


def owned_name(prefix):
    """`<prefix><host>-<pid>-<random>`, a name for a temporary file this process will create
    (unique among this process' names; other processes' names differ by their pid)."""
    return owned_prefix(prefix) + secrets.token_hex(4)


def make_owned_dir(parent, prefix):
    """A new empty folder `<parent>/<prefix><host>-<pid>-<random>`; returns its path."""
    return tempfile.mkdtemp(prefix=owned_prefix(prefix), dir=parent)


def is_alive(pid):
    """Whether process `pid` of this host exists (one of another user counts as alive)."""
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:  # no process can have it: not a name this module wrote
        return True
    return True


def is_dead_leftover(name, prefix_pattern):
    """Whether `name` is `<prefix_pattern><this host>-<pid>-<random>` and process `pid` is gone
    (False for any other form, another host's name or a live process' name)."""
    match = _OWNED_TAIL.match(name)
    if match is None:
        return False
    host = host_tag()
    stem = match["stem"]
    if not stem.endswith(host) or not fnmatch.fnmatchcase(stem[: -len(host)], prefix_pattern):
        return False
    return not is_alive(int(match["pid"]))


def remove_dead_leftovers(directory, prefix_pattern):
    """Remove the entries of `directory` named `<prefix_pattern><this host>-<pid>-<random>`
    whose process `pid` is gone: what writers killed mid-write left behind.

    Args:
        directory: the folder to clean (a missing folder has nothing to remove).
        prefix_pattern: the owned names' prefix, an fnmatch pattern such as ".export-" or
            "ckpt-*.npz.tmp-". It must end with literal characters (the separator before
            the host) that no wildcard can reach past, so that another host's name which
            ends like this one's is never read as this host's.

    Returns:
        The paths removed. One that cannot be removed is skipped: a cleanup must not fail
        the run that does it.
    """
    if not prefix_pattern or prefix_pattern[-1] in "*?]":
        raise ValueError(
            "prefix_pattern must end with a literal separator (e.g. '.export-' or "
            f"'ckpt-*.npz.tmp-'), not a wildcard. Received: {prefix_pattern!r}"
        )
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    removed = []
    for entry in entries:
        if not is_dead_leftover(entry.name, prefix_pattern):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.remove(entry.path)
        except OSError:  # gone already (another run cleaned up first) or not ours to remove
            continue
        removed.append(entry.path)
    return removed
