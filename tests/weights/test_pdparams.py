"""PaddlePaddle .pdparams files read without Paddle: paddle.save's pickle of numpy arrays,
its bookkeeping entries dropped as paddle.load drops them, nothing in the file executed."""

import argparse
import os
import pickle

import numpy as np
import pytest

from keras_minimal.weights import read_checkpoint
from keras_minimal.weights.pdparams import read_pdparams
from keras_minimal.weights.pickle_refusals import PickledCodeError
from keras_minimal.weights.readers import CorruptCheckpointError, refuse_directory
from tests.helpers import DATA

FIXTURE = DATA / "pplcnet_paddle_x0_25.pdparams"  # written by paddle.save (protocol 4)


def _plain_unpickle(path):
    with open(path, "rb") as file:
        return pickle.load(file)  # trusted here: the fixture is ours


def test_paddle_save_file_reads_as_paddle_load_gives_it():
    plain = _plain_unpickle(FIXTURE)
    assert "StructuredToParameterName@@" in plain  # what a plain pickle.load keeps
    state = read_checkpoint(FIXTURE)
    expected = {k: v for k, v in plain.items() if k != "StructuredToParameterName@@"}
    assert sorted(state) == sorted(expected)
    for name, array in expected.items():
        assert state[name].dtype == array.dtype and state[name].shape == array.shape, name
        np.testing.assert_array_equal(state[name], array, err_msg=name)


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_every_protocol_paddle_save_writes(tmp_path, protocol):
    # Paddle < 2.1 saved with protocol 2 (ndarray bytes through _codecs.encode).
    state = {
        "conv.weight": np.arange(24, dtype="float32").reshape(2, 3, 2, 2),
        "bn._mean": np.array([0.5, -1.5], "float32"),
        "fc.weight": np.ones((3, 2), "float64")[:, ::-1],
        "StructuredToParameterName@@": {"conv.weight": "conv2d_0.w_0"},
    }
    path = tmp_path / "old.pdparams"
    path.write_bytes(pickle.dumps(state, protocol=protocol))
    loaded = read_checkpoint(path)
    assert sorted(loaded) == ["bn._mean", "conv.weight", "fc.weight"]
    for name in loaded:
        np.testing.assert_array_equal(loaded[name], state[name])
        assert loaded[name].dtype == state[name].dtype


def test_sliced_big_arrays_are_joined_as_paddle_load_does(tmp_path):
    # paddle.save with protocol 2/3 flattens a too-large array and cuts it into slices
    # (io_utils._unpack_saved_dict); paddle.load joins them back (_pack_loaded_dict).
    big = np.arange(30, dtype="float32").reshape(5, 6)
    flat = big.flatten()
    state = {
        "small": np.ones(3, "float32"),
        "big@@.0": flat[:16],
        "big@@.1": flat[16:],
        "UnpackBigParamInfor@@": {"big": {"OriginShape": (5, 6), "slices": ["big@@.0", "big@@.1"]}},
    }
    path = tmp_path / "sliced.pdparams"
    path.write_bytes(pickle.dumps(state, protocol=2))
    loaded = read_pdparams(str(path))
    assert sorted(loaded) == ["big", "small"]
    np.testing.assert_array_equal(loaded["big"], big)


def test_a_truncated_file_is_reported_as_damaged_naming_it(tmp_path):
    path = tmp_path / "PPLCNet_x0_25_pretrained.pdparams"
    path.write_bytes(FIXTURE.read_bytes()[:5000])
    with pytest.raises(CorruptCheckpointError) as error:
        read_checkpoint(path)
    message = str(error.value)
    assert f"Could not read {str(path)!r} as a PaddlePaddle .pdparams file" in message
    assert "download it again" in message


class _RunsCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_pickle_that_would_run_code_is_refused_as_such_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pdparams"
    path.write_bytes(pickle.dumps({"w": np.zeros(2), "x": _RunsCommand(marker)}, protocol=4))
    with pytest.raises(PickledCodeError) as error:
        read_checkpoint(path)
    assert not isinstance(error.value, CorruptCheckpointError)  # not "download it again"
    assert f"would call {os.system.__module__}.system" in str(error.value)
    assert not marker.exists()


def test_an_object_that_is_not_weights_is_named_not_called_corrupt(tmp_path):
    path = tmp_path / "with_args.pdparams"
    path.write_bytes(pickle.dumps({"w": np.zeros(2), "args": argparse.Namespace(lr=0.1)}))
    with pytest.raises(ValueError, match="holds a argparse.Namespace object") as error:
        read_checkpoint(path)
    assert not isinstance(error.value, CorruptCheckpointError)


def test_pdparams_is_a_listed_format(tmp_path):
    (tmp_path / "weights.onnx").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"PaddlePaddle \.pdparams"):
        read_checkpoint(tmp_path / "weights.onnx")
    (tmp_path / "PPLCNet_x1_0_pretrained.pdparams").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"it holds PPLCNet_x1_0_pretrained\.pdparams"):
        refuse_directory(str(tmp_path))
