"""The PyTorch checkpoint reader (numpy only) against torch.load(weights_only=True): every
fixture's state dicts and generated checkpoints, in torch.save's zip and legacy formats."""

import argparse
import collections
import pickle
import zipfile

import ml_dtypes
import numpy as np
import pytest

from keras_minimal.weights.checkpoint_errors import CorruptCheckpointError
from keras_minimal.weights.haiku_pickle import is_pickle
from keras_minimal.weights.pickle_refusals import RefusedPickleError
from keras_minimal.weights.torch_checkpoint import read_torch_checkpoint
from keras_minimal.weights.torch_tensors import UnsupportedTensorError
from tests.helpers import DATA

torch = pytest.importorskip("torch")  # the reference the reader is compared with

FORMATS = {"zip": True, "legacy": False}


def _save(obj, path, zipped=True):
    torch.save(obj, path, _use_new_zipfile_serialization=zipped)
    return path


def _torch_load(path):
    with torch.serialization.safe_globals([argparse.Namespace]):
        return torch.load(path, map_location="cpu", weights_only=True)


def _as_numpy(tensor):
    tensor = tensor.detach().resolve_conj().resolve_neg()
    if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16: its bits, as ml_dtypes'
        return tensor.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    if tensor.dtype == torch.float8_e4m3fn:
        return tensor.view(torch.uint8).numpy().view(ml_dtypes.float8_e4m3fn)
    return tensor.numpy()


def assert_same(ours, reference, where="checkpoint"):
    """`ours` (numpy) is `reference` (torch.load's): same containers, keys, dtypes, shapes
    and bytes."""
    if isinstance(reference, torch.Tensor):
        expected = _as_numpy(reference)
        assert isinstance(ours, np.ndarray), (where, type(ours))
        assert (ours.dtype, ours.shape) == (expected.dtype, expected.shape), where
        assert np.ascontiguousarray(ours).tobytes() == np.ascontiguousarray(expected).tobytes()
    elif isinstance(reference, dict):
        assert type(ours) is type(reference), (where, type(ours))
        assert list(ours) == list(reference), where
        for key in reference:
            assert_same(ours[key], reference[key], f"{where}[{key!r}]")
    elif isinstance(reference, (list, tuple)):
        assert type(ours) is (tuple if isinstance(reference, tuple) else list), where
        assert len(ours) == len(reference), where
        for index, (mine, theirs) in enumerate(zip(ours, reference, strict=True)):
            assert_same(mine, theirs, f"{where}[{index}]")
    elif isinstance(reference, argparse.Namespace):
        assert type(ours) is argparse.Namespace, (where, type(ours))
        assert_same(vars(ours), vars(reference), where)
    else:
        assert type(ours) is type(reference) and ours == reference, (where, ours, reference)


def _state_dicts():
    """(id, state dict) of every fixture in tests/data: its sd/ and deploy_sd/ groups."""
    found = []
    for path in sorted(DATA.glob("*.npz")):
        if is_pickle(path):  # DeepMind's F*_haiku.npz form: no state dict groups
            continue
        with np.load(path, allow_pickle=False) as data:
            for group in ("sd/", "deploy_sd/"):
                state = {k[len(group) :]: data[k] for k in data.files if k.startswith(group)}
                if state:
                    found.append(pytest.param(state, id=f"{path.stem}:{group[:-1]}"))
    return found


@pytest.mark.parametrize("zipped", FORMATS.values(), ids=FORMATS.keys())
@pytest.mark.parametrize("state", _state_dicts())
def test_every_fixture_state_dict_reads_as_torch_loads_it(tmp_path, state, zipped):
    tensors = collections.OrderedDict((k, torch.from_numpy(v.copy())) for k, v in state.items())
    for name, obj in {"bare": tensors, "wrapped": {"model": tensors, "epoch": 7}}.items():
        path = _save(obj, tmp_path / f"{name}.pth", zipped)
        ours = read_torch_checkpoint(str(path))
        assert_same(ours, _torch_load(path))
        bare = ours if name == "bare" else ours["model"]
        for key, array in state.items():  # and the values are the fixture's
            np.testing.assert_array_equal(bare[key], array)


def _tensors_of_every_dtype():
    values = torch.linspace(-3, 3, 12)
    return {
        "float32": values.reshape(3, 4),
        "float16": values.half(),
        "bfloat16": values.bfloat16().reshape(2, 6),
        "float64": values.double(),
        "int64": torch.arange(-5, 5),
        "int32": torch.arange(7, dtype=torch.int32),
        "int16": torch.arange(7, dtype=torch.int16),
        "int8": torch.arange(-4, 4, dtype=torch.int8),
        "uint8": torch.arange(250, 256, dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "complex64": torch.complex(values, -values),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
    }


@pytest.mark.parametrize("zipped", FORMATS.values(), ids=FORMATS.keys())
def test_dtypes(tmp_path, zipped):
    path = _save(_tensors_of_every_dtype(), tmp_path / "dtypes.pth", zipped)
    ours = read_torch_checkpoint(str(path))
    assert_same(ours, _torch_load(path))
    assert ours["bfloat16"].dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(
        ours["bfloat16"].astype(np.float32),
        torch.linspace(-3, 3, 12).bfloat16().float().numpy().reshape(2, 6),
    )


def test_dtypes_without_a_storage_class_of_their_own(tmp_path):
    # torch.save writes these with _rebuild_tensor_v3 over an untyped (byte) storage.
    state = {
        "uint16": torch.tensor([1, 2, 65535], dtype=torch.uint16)[1:],
        "float8": torch.tensor([0.5, -2.0, 448.0]).to(torch.float8_e4m3fn),
    }
    path = _save(state, tmp_path / "v3.pth")
    ours = read_torch_checkpoint(str(path))
    assert_same(ours, _torch_load(path))
    assert ours["uint16"].tolist() == [2, 65535]


@pytest.mark.parametrize("zipped", FORMATS.values(), ids=FORMATS.keys())
def test_views_strides_and_shared_storages(tmp_path, zipped):
    weight = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    state = collections.OrderedDict(
        weight=weight,
        transposed=weight.T,  # non-contiguous
        rows=weight[1:3],  # storage offset, same storage
        every_other=weight[:, ::2],  # strided
        corner=weight[2:, 3:].T,  # offset and transposed
        expanded=torch.arange(3.0).expand(4, 3),  # stride 0
        again=weight,  # one tensor pickled twice
    )
    path = _save(state, tmp_path / "views.pth", zipped)
    ours = read_torch_checkpoint(str(path))
    assert_same(ours, _torch_load(path))
    np.testing.assert_array_equal(ours["corner"], weight.numpy()[2:, 3:].T)
    assert ours["again"] is ours["weight"]
    assert all(array.flags.c_contiguous and array.flags.writeable for array in ours.values())
    ours["rows"][0, 0] = -1  # copies: changing one leaves the storage's other views as they are
    assert ours["weight"][1, 0] == 6


@pytest.mark.parametrize("zipped", FORMATS.values(), ids=FORMATS.keys())
def test_containers_parameters_and_training_script_state(tmp_path, zipped):
    linear = torch.nn.Linear(3, 2)
    obj = {
        "model": linear.state_dict(),  # an OrderedDict with _metadata
        "parameter": torch.nn.Parameter(torch.ones(2, 2)),
        "list": [torch.zeros(1), 3, "text", None, 1.5, True, b"bytes"],
        "tuple": (torch.ones(1), (2, 3)),
        "args": argparse.Namespace(lr=0.1, model="vanillanet_5", milestones=[30, 60]),
        "size": torch.Size([2, 3]),
        "nested": {"ema": {"decay": 0.999, "weights": linear.state_dict()}},
    }
    path = _save(obj, tmp_path / "training.pth.tar", zipped)
    ours = read_torch_checkpoint(str(path))
    reference = _torch_load(path)
    assert ours.pop("size") == (2, 3) and reference.pop("size") == torch.Size([2, 3])
    assert_same(ours, reference)
    assert ours["model"]._metadata == linear.state_dict()._metadata


def test_torchs_lazy_negation_and_conjugation_bits(tmp_path):
    values = torch.complex(torch.arange(3.0), torch.ones(3))
    state = {"neg": torch.arange(4.0)._neg_view(), "conj": values.conj()}
    path = _save(state, tmp_path / "bits.pth")
    ours = read_torch_checkpoint(str(path))
    assert_same(ours, _torch_load(path))
    np.testing.assert_array_equal(ours["neg"], -np.arange(4.0, dtype=np.float32))


def test_a_tensor_with_python_attributes(tmp_path):
    tensor = torch.ones(2, 3)
    tensor.note = "an attribute"  # torch.save wraps it in _rebuild_from_type_v2
    path = _save({"t": tensor}, tmp_path / "attributes.pth")
    assert_same(read_torch_checkpoint(str(path)), _torch_load(path))


def test_a_file_without_crc32s(tmp_path):
    # torch.serialization.set_crc32_options(False): zipfile alone would call it damaged.
    before = torch.serialization.get_crc32_options()
    torch.serialization.set_crc32_options(False)
    try:
        path = _save({"w": torch.arange(5.0)}, tmp_path / "nocrc.pth")
    finally:
        torch.serialization.set_crc32_options(before)
    with zipfile.ZipFile(path) as archive:
        assert not any(info.CRC for info in archive.infolist())
        assert archive.testzip() is not None  # zipfile's CRC check fails on every member
    assert_same(read_torch_checkpoint(str(path)), _torch_load(path))


def _rewrite_zip(path, change):
    """Rewrite the archive at `path` with change(name, data) → data for every member."""
    with zipfile.ZipFile(path) as archive:
        members = [(info.filename, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members:
            archive.writestr(name, change(name, data))


@pytest.mark.parametrize(
    "dtype", [torch.float32, torch.bfloat16, torch.int64, torch.complex64, torch.float16]
)
def test_a_file_written_on_a_big_endian_machine(tmp_path, dtype):
    state = {"a": torch.arange(6).to(dtype).reshape(2, 3).T, "b": torch.tensor(7).to(dtype)}
    path = _save(state, tmp_path / "big.pth")
    unit = torch.empty(0, dtype=dtype).element_size() // (2 if dtype.is_complex else 1)

    def big_endian(name, data):
        if name.endswith("/byteorder"):
            return b"big"
        if "/data/" in name:
            return np.frombuffer(data, f"<u{unit}").astype(f">u{unit}").tobytes()
        return data

    _rewrite_zip(path, big_endian)
    ours = read_torch_checkpoint(str(path))
    assert_same(ours, _torch_load(path))
    assert_same(ours, state)


# --- damaged files and files of another kind ---------------------------------------------


def _checkpoint(tmp_path, zipped, name="checkpoint.pth"):
    return _save({"w": torch.arange(1000.0), "b": torch.ones(3)}, tmp_path / name, zipped)


def _assert_corrupt(path, *phrases):
    with pytest.raises(CorruptCheckpointError) as error:
        read_torch_checkpoint(str(path))
    message = str(error.value)
    assert "truncated, corrupt or not a checkpoint; download it again" in message
    for phrase in phrases:
        assert phrase in message, message


@pytest.mark.parametrize("zipped", FORMATS.values(), ids=FORMATS.keys())
@pytest.mark.parametrize("kept", [0.1, 0.5, 0.95])
def test_a_truncated_file_is_corrupt(tmp_path, zipped, kept):
    path = _checkpoint(tmp_path, zipped)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * kept)])
    _assert_corrupt(path)


def test_a_damaged_storage_is_corrupt(tmp_path):
    path = _checkpoint(tmp_path, zipped=True)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("checkpoint/data/0")
    data = bytearray(path.read_bytes())
    header = info.header_offset  # local header: 30 bytes, then file name and extra field
    name_length, extra_length = (
        int.from_bytes(data[header + i : header + i + 2], "little") for i in (26, 28)
    )
    start = header + 30 + name_length + extra_length
    data[start + 100] ^= 0xFF
    path.write_bytes(bytes(data))
    _assert_corrupt(path, "CRC-32")


def test_random_bytes_are_corrupt(tmp_path):
    path = tmp_path / "random.pth"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    _assert_corrupt(path, "binary data of an unknown kind, not a PyTorch checkpoint")


@pytest.mark.parametrize(
    "content, kind",
    [
        (b"<!DOCTYPE html><html><body>Rate limit exceeded</body></html>", "an HTML page"),
        (
            b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 1234\n",
            "a Git LFS pointer, not the file it points to (fetch it: git lfs pull)",
        ),
        (b"", "an empty file"),
        (pickle.dumps({"w": [1.0, 2.0]}, protocol=2), "a Python pickle"),
    ],
    ids=["html", "lfs", "empty", "plain-pickle"],
)
def test_a_file_of_another_kind_is_named(tmp_path, content, kind):
    path = tmp_path / "model.pth"
    path.write_bytes(content)
    _assert_corrupt(path, f"it is {kind}", "not a PyTorch checkpoint")


def test_an_npz_named_pth(tmp_path):
    path = tmp_path / "model.pth"
    with open(path, "wb") as file:
        np.savez(file, w=np.ones(3))
    _assert_corrupt(path, "it is a NumPy .npz archive, not a PyTorch checkpoint")


def _zip_with_pickle(path, payload):
    """A zip checkpoint whose data.pkl is `payload` and whose one storage holds 4 floats."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")
        archive.writestr("archive/data/0", np.arange(4, dtype="<f4").tobytes())
    return path


def _tensor_pickle(size, stride, offset):
    """data.pkl of {"w": tensor} viewing storage 0 (4 float32) as torch.save writes it."""
    return (
        b"\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n("
        b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpu"
        b"K\x04tQ"
        + pickle.dumps(offset, protocol=2)[2:-1]
        + pickle.dumps(size, protocol=2)[2:-1]
        + pickle.dumps(stride, protocol=2)[2:-1]
        + b"\x89ccollections\nOrderedDict\n)RtRs."
    )


def test_the_handwritten_tensor_pickle_reads_as_torch_reads_it(tmp_path):
    # The control of the next test: the same bytes, with a size that fits.
    path = _zip_with_pickle(tmp_path / "fits.pth", _tensor_pickle((2, 2), (1, 2), 0))
    assert_same(read_torch_checkpoint(str(path)), _torch_load(path))
    np.testing.assert_array_equal(read_torch_checkpoint(str(path))["w"], [[0, 2], [1, 3]])


@pytest.mark.parametrize(
    "size, stride, offset, problem",
    [
        ((5,), (1,), 0, "reaches element 4 of storage '0', which has 4"),
        ((2, 2), (1, 2), 1, "reaches element 4"),
        ((3,), (2,), 0, "reaches element 4"),
        ((2,), (-1,), 1, "malformed tensor"),
        ((2,), (1,), -1, "malformed tensor"),
    ],
)
def test_a_tensor_that_would_read_outside_its_storage_is_corrupt(
    tmp_path, size, stride, offset, problem
):
    path = _zip_with_pickle(tmp_path / "outside.pth", _tensor_pickle(size, stride, offset))
    _assert_corrupt(path, problem)


def test_a_storage_shorter_than_its_description_is_corrupt(tmp_path):
    path = _zip_with_pickle(tmp_path / "short.pth", _tensor_pickle((4,), (1,), 0))
    _rewrite_zip(path, lambda name, data: data[:8] if name.endswith("/data/0") else data)
    _assert_corrupt(path, "holds 8 bytes")


@pytest.mark.filterwarnings("ignore::UserWarning")  # quantized tensors are deprecated in torch
def test_a_quantized_tensor_is_named_not_called_corrupt(tmp_path):
    quantized = torch.quantize_per_tensor(torch.ones(4), 0.1, 0, torch.qint8)
    path = _save({"w": torch.ones(2), "q": quantized}, tmp_path / "quantized.pth")
    _torch_load(path)  # torch reads it
    with pytest.raises(UnsupportedTensorError) as error:
        read_torch_checkpoint(str(path))
    message = str(error.value)
    assert f"{str(path)!r} holds a quantized tensor (dequantize it" in message
    assert not isinstance(error.value, CorruptCheckpointError)


# --- what a pickle may not do ---------------------------------------------------------


def test_a_refused_object_is_a_safety_refusal_not_corruption(tmp_path):
    path = _save({"model": {"w": torch.ones(1)}, "acc": np.float64(0.8)}, tmp_path / "n.pth")
    with pytest.raises(RefusedPickleError, match="holds a numpy") as error:
        read_torch_checkpoint(str(path))
    assert not isinstance(error.value, CorruptCheckpointError)


class _Marker:
    pass


def _build(global_line, state):
    """A pickle that applies BUILD(state) to the global `global_line` ("module\\nname\\n")."""
    return b"\x80\x02c" + global_line + pickle.dumps(state, protocol=2)[2:-1] + b"b."


@pytest.mark.parametrize(
    "global_line",
    [b"argparse\nNamespace\n", b"torch._utils\n_rebuild_tensor_v2\n", b"torch\nFloatStorage\n"],
)
def test_a_pickle_cannot_change_the_objects_it_names(tmp_path, global_line):
    # BUILD with a slot state calls setattr on the object: on argparse's class or on a
    # stand-in it would change every later load in the process.
    payload = _build(global_line, (None, {"__module__": "changed", "injected": 1}))
    path = _zip_with_pickle(tmp_path / "build.pth", payload)
    _assert_corrupt(path, "the pickle sets")
    assert argparse.Namespace.__module__ == "argparse"
    assert not hasattr(argparse.Namespace, "injected")
    assert_same(
        read_torch_checkpoint(str(_checkpoint(tmp_path, True, "after.pth"))),
        {"w": torch.arange(1000.0), "b": torch.ones(3)},
    )


def test_an_ordinary_unpickler_would_change_the_class():
    # The control of the previous test, on a class of this module.
    pickle.loads(_build(f"{__name__}\n_Marker\n".encode(), (None, {"injected": 1})))
    assert _Marker.injected == 1
