"""The .safetensors format read with numpy alone (no safetensors package).

A file is an 8-byte little-endian header length N, N bytes of JSON ({name: {"dtype", "shape",
"data_offsets": [begin, end]}, optionally "__metadata__"}), then the tensors' raw
little-endian bytes, offsets counted from the end of the header. Nothing is executed: the
format has no code in it, only the sizes are checked before any array is made.
"""

import json
import struct

import ml_dtypes
import numpy as np

from keras_minimal.weights.checkpoint_errors import corrupt_checkpoint

DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}


def read_safetensors(path):
    """{name: np.ndarray} of a .safetensors file; CorruptCheckpointError if it is damaged."""
    with open(path, "rb") as file:
        data = file.read()
    try:
        return _tensors(data)
    except (ValueError, KeyError, TypeError, struct.error) as error:
        raise corrupt_checkpoint(path, error) from None


def _tensors(data):
    (header_size,) = struct.unpack("<Q", data[:8])
    if header_size > len(data) - 8:
        raise ValueError(f"its header claims {header_size} bytes; the file has {len(data)}")
    header = json.loads(data[8 : 8 + header_size])
    body = memoryview(data)[8 + header_size :]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] not in DTYPES:
            raise ValueError(f"{name} has the dtype {entry['dtype']!r}, which is not read")
        dtype = DTYPES[entry["dtype"]]
        shape = tuple(int(size) for size in entry["shape"])
        begin, end = (int(offset) for offset in entry["data_offsets"])
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if not 0 <= begin <= end <= len(body) or end - begin != expected:
            raise ValueError(
                f"{name} ({entry['dtype']}, shape {list(shape)}) does not fit its "
                f"data_offsets [{begin}, {end}] in {len(body)} bytes of data"
            )
        tensors[name] = np.frombuffer(body[begin:end], dtype=dtype).reshape(shape).copy()
    return tensors
