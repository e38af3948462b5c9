"""DeepMind's F*_haiku.npz (dill pickles of the Haiku parameter tree) read without dill: the
same arrays as dill.load gives, and anything but plain arrays refused before it runs."""

import json
import os
import pickle
import sys
import types

import numpy as np
import pytest

from keras_minimal.weights import read_checkpoint
from keras_minimal.weights.haiku_pickle import read_haiku_pickle
from keras_minimal.weights.pickle_refusals import PickledCodeError
from keras_minimal.weights.readers import CorruptCheckpointError
from tests.helpers import DATA

HAIKU_FILE = DATA / "nfnet_haiku_tiny.npz"
CASE = DATA / "nfnet_haiku_tiny_case.npz"


def _dill_create_array(f, args, state, npdict=None):
    # What dill's own helper does (dill/_dill.py); here only to write and, as the control,
    # to read pickles the way dill does, since dill is not installed.
    array = f(*args)
    array.__setstate__(state)
    if npdict is not None:
        array.__dict__.update(npdict)
    return array


def _eval_repr(text):
    return eval(text)


@pytest.fixture
def dill_module(monkeypatch):
    """A module importable as dill._dill holding dill's helpers, so that pickle writes (and an
    ordinary unpickler resolves) the same globals as dill's files."""
    package, module = types.ModuleType("dill"), types.ModuleType("dill._dill")
    for function in (_dill_create_array, _eval_repr):
        name = function.__name__.replace("_dill", "")
        copy = types.FunctionType(
            function.__code__, function.__globals__, name, function.__defaults__
        )
        copy.__module__, copy.__qualname__ = "dill._dill", name
        setattr(module, name, copy)
    package._dill = module
    monkeypatch.setitem(sys.modules, "dill", package)
    monkeypatch.setitem(sys.modules, "dill._dill", module)
    return module


class _DillArray:
    """Pickles as dill pickles an ndarray: _create_array(f, args, state, npdict), with any
    part replaceable to forge a file."""

    def __init__(self, create_array, array, **forged):
        f, args, state = array.__reduce__()
        self.call = create_array, (forged.get("f", f), args, state, forged.get("npdict"))

    def __reduce__(self):
        return self.call


class _Call:
    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def _write(path, tree, protocol=4):
    path.write_bytes(pickle.dumps(tree, protocol=protocol))
    return path


def test_deepmind_file_reads_as_dill_load_gives_it(dill_module):
    ours = read_haiku_pickle(str(HAIKU_FILE))
    with open(HAIKU_FILE, "rb") as file:
        theirs = pickle.load(file)  # an ordinary unpickler with dill's helper: the control
    assert list(ours) == list(theirs)
    for module, params in theirs.items():
        assert list(ours[module]) == list(params)
        for name, array in params.items():
            assert type(ours[module][name]) is np.ndarray
            assert ours[module][name].dtype == array.dtype
            np.testing.assert_array_equal(ours[module][name], array)
    meta = json.loads(str(np.load(CASE)["meta"]))
    assert len(ours) == meta["n_modules"]
    assert sum(a.size for params in ours.values() for a in params.values()) == meta["n_parameters"]


def test_read_checkpoint_takes_the_pickle_despite_its_npz_suffix():
    checkpoint = read_checkpoint(HAIKU_FILE)
    assert checkpoint["NFNet/~/stem_conv0/w"].shape == (3, 3, 3, 16)  # HWIO
    assert checkpoint["NFNet/~/nf_block_4/~/squeeze_excite/~/linear_1/b"].shape == (96,)
    assert checkpoint["NFNet/~/nf_block/skip_gain"].shape == ()


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_every_pickle_protocol_that_dill_may_have_written(dill_module, tmp_path, protocol):
    rng = np.random.default_rng(0)
    tree = {
        "NFNet/~/linear": {
            "w": rng.normal(size=(4, 3)).astype("float32"),
            "b": np.arange(3, dtype="float32")[::-1],  # not contiguous
        },
        "NFNet/~/nf_block": {"skip_gain": np.full((), 0.5, "float32")},
    }
    written = {
        module: {name: _DillArray(dill_module._create_array, a) for name, a in params.items()}
        for module, params in tree.items()
    }
    loaded = read_haiku_pickle(str(_write(tmp_path / "F0_haiku.npz", written, protocol)))
    for module, params in tree.items():
        for name, array in params.items():
            np.testing.assert_array_equal(loaded[module][name], array)
            assert loaded[module][name].dtype == array.dtype


def test_code_in_a_haiku_pickle_is_refused_before_it_runs(dill_module, tmp_path):
    marker = tmp_path / "ran"
    tree = {
        "NFNet/~/linear": {"w": _DillArray(dill_module._create_array, np.zeros((2, 2), "f4"))},
        "NFNet/~/x": {"b": _Call(os.system, f"touch {marker}")},
    }
    path = _write(tmp_path / "F0_haiku.npz", tree)
    with pytest.raises(PickledCodeError, match="would call posix.system.*Nothing in the file"):
        read_checkpoint(path)
    assert not marker.exists()
    pickle.loads(path.read_bytes())  # the control: an ordinary unpickler runs it
    assert marker.exists()


def test_dills_other_helpers_are_refused_as_code(dill_module, tmp_path):
    marker = tmp_path / "ran"
    tree = {"NFNet/~/x": {"b": _Call(dill_module._eval_repr, f"open({str(marker)!r}, 'w')")}}
    path = _write(tmp_path / "F0_haiku.npz", tree)
    with pytest.raises(PickledCodeError, match="would call dill._dill._eval_repr"):
        read_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "forged, array, named",
    [
        ({"f": np.dtype}, np.zeros(2, "f4"), "the constructor <class 'numpy.dtype'>"),
        ({}, np.array([1, "x"], dtype=object), "an array state of dtype dtype('O')"),
        ({"npdict": {"info": 1}}, np.zeros(2, "f4"), "attributes for the array's __dict__"),
    ],
)
def test_create_array_is_rebuilt_only_for_plain_numeric_arrays(
    dill_module, tmp_path, forged, array, named
):
    tree = {"NFNet/~/linear": {"w": _DillArray(dill_module._create_array, array, **forged)}}
    path = _write(tmp_path / "F0_haiku.npz", tree)
    with pytest.raises(ValueError) as error:
        read_checkpoint(path)
    message = str(error.value)
    assert not isinstance(error.value, CorruptCheckpointError)
    assert f"Refused to load {str(path)!r}: its pickle calls dill's _create_array with " in message
    assert named in message and "nothing in the file was executed" in message


@pytest.mark.parametrize("cut", [0.5, 0.999])
def test_a_truncated_haiku_file_is_a_download_to_redo(tmp_path, cut):
    data = HAIKU_FILE.read_bytes()
    path = tmp_path / "F0_haiku.npz"
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(CorruptCheckpointError, match="truncated, corrupt or not a checkpoint"):
        read_checkpoint(path)


def test_garbage_after_the_pickle_header_is_corrupt_not_refused(tmp_path):
    path = tmp_path / "F0_haiku.npz"
    path.write_bytes(b"\x80\x04" + bytes(range(7, 200)))
    with pytest.raises(CorruptCheckpointError, match="download it again"):
        read_checkpoint(path)
