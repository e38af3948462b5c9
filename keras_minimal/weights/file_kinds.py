"""What a file looks like, from its first bytes (and its name where the bytes say little), for
the errors about files that are not a checkpoint that is read here."""

import os
import zipfile

_HEAD = 1024  # bytes looked at

# (signature at offset 0, what the file is)
_SIGNATURES = (
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (a Keras .h5 model or weights file, for example)"),
    (b"\x93NUMPY", "a single NumPy array (.npy)"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"GGUF", "a GGUF model file"),
    (b"\x7fELF", "an executable"),
)
# By name, where the content has no signature of its own (ONNX is a protobuf message).
_SUFFIXES = {
    ".onnx": "an ONNX model (an exported inference graph, not a checkpoint)",
    ".pb": "a TensorFlow protobuf (SavedModel or frozen graph)",
}


def describe_file(path):
    """A phrase such as "an HDF5 file (…)" or "a text file beginning 'version https://…'"."""
    try:
        with open(path, "rb") as file:
            head = file.read(_HEAD)
    except OSError as error:
        return f"a file that cannot be read ({error.strerror or error})"
    if not head:
        return "an empty file"
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if head.startswith(b"PK\x03\x04"):
        return _describe_zip(path)
    if head[4:8] == b"TFL3":
        return "a TensorFlow Lite model (an exported inference graph, not a checkpoint)"
    if len(head) > 262 and head[257:262] == b"ustar":
        return "a tar archive"
    if _is_safetensors(head):
        return "a safetensors file"
    if head[0] == 0x80 and 2 <= head[1] <= 5:
        return "a Python pickle"
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    return _describe_text(head) or "binary data of an unknown kind"


def _describe_zip(path):
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return "a damaged zip archive"
    if "config.json" in names and "model.weights.h5" in names:
        return "a Keras model archive (.keras)"
    if any(name.endswith("/data.pkl") for name in names):
        return "a PyTorch checkpoint (zip)"
    if names and all(name.endswith(".npy") for name in names):
        return "a NumPy .npz archive"
    return "a zip archive"


def _is_safetensors(head):
    # An 8-byte little-endian header length, then the JSON header.
    return len(head) > 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < 1 << 30


def _describe_text(head):
    text = _as_text(head)
    if text is None:
        return None
    start = text.lstrip()
    if start.lower().startswith(("<!doctype html", "<html")):
        return "an HTML page (a failed download, or a web page saved in its place)"
    if start.startswith("version https://git-lfs"):
        return "a Git LFS pointer, not the file it points to (fetch it: git lfs pull)"
    first_line = start.splitlines()[0] if start else ""
    return f"a text file beginning {first_line[:60]!r}"


def _as_text(head):
    """`head` as UTF-8 text without NUL characters, or None; a character that the first
    _HEAD bytes cut in two is dropped."""
    for cut in (0, 1, 2, 3) if len(head) == _HEAD else (0,):
        try:
            text = head[: len(head) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return None if "\x00" in text else text
    return None
