"""Read torch.save files (.pth, .pt, .bin, .ckpt, .pth.tar) with numpy alone, never running
code they bring.

Two layouts exist. torch ≥ 1.6 writes a zip archive: `<name>/data.pkl` (the pickled object),
`<name>/data/<key>` (the raw bytes of each storage), `<name>/byteorder` ("little" or "big").
Before, and with `_use_new_zipfile_serialization=False`, it writes pickles one after another:
a magic number, the protocol version, the system's type sizes, the object, the list of storage
keys, then for each key an int64 element count and the storage's bytes (little-endian).
Either way the object's pickle is read by the restricted unpickler with torch_tensors'
allow-list: tensors come back as numpy arrays (bfloat16 as ml_dtypes.bfloat16).
"""

import io
import os
import struct
import zipfile
import zlib

import numpy as np

from keras_minimal.weights.checkpoint_errors import corrupt_checkpoint
from keras_minimal.weights.file_kinds import describe_file
from keras_minimal.weights.pickle_refusals import RefusedPickleError
from keras_minimal.weights.restricted_pickle import restricted_load
from keras_minimal.weights.torch_tensors import (
    TORCH_GLOBALS,
    UnsupportedTensorError,
    materialize,
    storage_from_id,
)

ZIP_MAGIC = b"PK\x03\x04"
LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, …, file name length, extra field length


class TorchScriptArchiveError(ValueError):
    """The file is a TorchScript archive (torch.jit.save): intact, but not a state dict."""


class _NotTorchSave(Exception):
    """The file is readable but was not written by torch.save."""


def read_torch_checkpoint(path):
    """The object that torch.save wrote to `path`, its tensors as numpy arrays.

    Raises:
        CorruptCheckpointError: the file is truncated, damaged or not a torch.save file.
        RefusedPickleError: its pickle names something other than tensors and plain
            containers (PickledCodeError when that would run code); nothing was run.
        TorchScriptArchiveError: a torch.jit.save archive, with how to save its state dict.
        UnsupportedTensorError: tensors that are not dense (quantized, sparse...).
    """
    with open(path, "rb") as file:
        zipped = file.read(len(ZIP_MAGIC)) == ZIP_MAGIC
        file.seek(0)
        try:
            return _read_zip(path, file) if zipped else _read_legacy(path, file)
        except (RefusedPickleError, TorchScriptArchiveError, OSError, MemoryError):
            raise  # the file is intact / the machine's problem: not a download to redo
        except UnsupportedTensorError as error:
            raise UnsupportedTensorError(
                f"{path!r} {error}. Save it as a dense tensor where the checkpoint was made "
                "and save the state dict again."
            ) from None
        except _NotTorchSave as error:
            raise corrupt_checkpoint(path, f"it is {error}, not a PyTorch checkpoint") from None
        except Exception as error:  # pickle, zip, struct, numpy: all mean a damaged file
            raise corrupt_checkpoint(path, error) from None


def _read_zip(path, file):
    with zipfile.ZipFile(file) as archive:
        names = archive.namelist()
        if any(name.endswith("/constants.pkl") for name in names):
            raise TorchScriptArchiveError(
                f"{path!r} is a TorchScript archive (torch.jit.save), not a state dict. "
                "Re-save its weights: torch.save(torch.jit.load(path).state_dict(), "
                "'weights.pth')."
            )
        pickles = [name for name in names if name.count("/") == 1 and name.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise _NotTorchSave(describe_file(path))
        prefix = pickles[0][: -len("data.pkl")]
        byteorder = "little"
        if f"{prefix}byteorder" in names:
            byteorder = _record(file, archive.getinfo(f"{prefix}byteorder")).decode("ascii")
        if byteorder not in ("little", "big"):
            raise ValueError(f"unknown byte order {byteorder!r:.20}")
        storages = {}
        obj = restricted_load(
            io.BytesIO(_record(file, archive.getinfo(pickles[0]))),
            path,
            TORCH_GLOBALS,
            lambda pid: storage_from_id(storages, pid),
        )
        for key, storage in storages.items():
            name = f"{prefix}data/{key}"
            if name not in names:
                raise ValueError(f"the storage {name!r} is missing")
            storage.raw = _storage_bytes(_record(file, archive.getinfo(name)), storage, name)
        return materialize(obj, big_endian=byteorder == "big")


def _record(file, info):
    """The bytes of an archive member, read at its offset. The CRC-32 is checked where one is
    written: torch.save may write none (torch.serialization.set_crc32_options(False)), which
    zipfile would take for damage."""
    if info.compress_type != zipfile.ZIP_STORED:  # torch stores; another tool may deflate
        data = zlib.decompress(_raw_member(file, info), wbits=-15)
    else:
        data = _raw_member(file, info)
    if len(data) != info.file_size:
        raise ValueError(f"{info.filename!r} holds {len(data)} of its {info.file_size} bytes")
    if info.CRC and zlib.crc32(data) != info.CRC:
        raise ValueError(f"{info.filename!r} does not match its CRC-32")
    return data


def _raw_member(file, info):
    file.seek(info.header_offset)
    signature, name_length, extra_length = _LOCAL_HEADER.unpack(file.read(_LOCAL_HEADER.size))
    if signature != ZIP_MAGIC:
        raise ValueError(f"no local header for {info.filename!r}")
    file.seek(info.header_offset + _LOCAL_HEADER.size + name_length + extra_length)
    return _read_exactly(file, info.compress_size, info.filename)


def _storage_bytes(data, storage, name):
    if len(data) != storage.nbytes:
        raise ValueError(
            f"{name!r} holds {len(data)} bytes; the pickle describes {storage.numel} "
            f"{storage.dtype.name} elements ({storage.nbytes} bytes)"
        )
    return np.frombuffer(data, np.uint8)


def _read_legacy(path, file):
    def load(persistent_load=None):
        return restricted_load(file, path, TORCH_GLOBALS, persistent_load)

    try:
        magic = load()
    except RefusedPickleError:
        raise
    except Exception:
        magic = None  # not even a pickle
    if magic != LEGACY_MAGIC_NUMBER:
        raise _NotTorchSave(describe_file(path))
    protocol = load()
    if protocol != LEGACY_PROTOCOL_VERSION:
        raise ValueError(f"unknown protocol version {protocol!r:.40}")
    load()  # the saving system's type sizes, which the data does not depend on
    storages = {}
    obj = load(lambda pid: storage_from_id(storages, pid))
    keys = load()
    if not isinstance(keys, list) or sorted(map(str, keys)) != sorted(storages):
        raise ValueError("the list of storages does not match the pickle's")
    for key in map(str, keys):
        storage = storages[key]
        (numel,) = struct.unpack("<q", _read_exactly(file, 8, f"storage {key}"))
        if numel != storage.numel:
            raise ValueError(f"storage {key!r} holds {numel} elements, not {storage.numel}")
        data = _read_exactly(file, storage.nbytes, f"storage {key}")
        storage.raw = np.frombuffer(data, np.uint8)
    return materialize(obj)


def _read_exactly(file, size, what):
    """`size` bytes from `file`; EOFError when the file ends before (checked first, so that a
    damaged size field does not ask for more memory than the file holds)."""
    if size > os.fstat(file.fileno()).st_size - file.tell():
        raise EOFError(f"the data of {what} is cut off")
    return file.read(size)
