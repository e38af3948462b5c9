"""The .safetensors reader (numpy alone) against the safetensors library's own reading."""

import ml_dtypes
import numpy as np
import pytest

from keras_minimal.weights.checkpoint_errors import CorruptCheckpointError
from keras_minimal.weights.safetensors_file import read_safetensors
from tests.helpers import load_fixture


def test_every_fixture_state_dict_and_dtype_reads_as_the_library_does(tmp_path):
    from safetensors.numpy import load_file, save_file

    state = dict(load_fixture("vanillanet_tiny5").state_dict)
    state["half"] = np.arange(6, dtype="float16").reshape(2, 3)
    state["double"] = np.linspace(0, 1, 5)
    state["steps"] = np.array([3, -1], dtype="int64")
    state["flags"] = np.array([True, False])
    state["bytes"] = np.arange(4, dtype="uint8")
    state["scalar"] = np.array(2.5, dtype="float32")
    state["empty"] = np.zeros((0, 3), dtype="float32")
    path = tmp_path / "w.safetensors"
    save_file(state, str(path), metadata={"format": "pt"})
    ours, theirs = read_safetensors(path), load_file(str(path))
    assert ours.keys() == theirs.keys() == state.keys()
    for name in theirs:
        assert ours[name].dtype == theirs[name].dtype and ours[name].shape == theirs[name].shape
        np.testing.assert_array_equal(ours[name], theirs[name])


def test_bfloat16(tmp_path):
    import torch
    from safetensors.torch import save_file

    values = torch.tensor([1.0, -2.5, 3.140625], dtype=torch.bfloat16)
    save_file({"w": values}, str(tmp_path / "b.safetensors"))
    read = read_safetensors(tmp_path / "b.safetensors")["w"]
    assert read.dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(read.astype("float32"), values.float().numpy())


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda data: data[:-3], "does not fit its data_offsets"),
        (lambda data: (10**9).to_bytes(8, "little") + data[8:], "header claims"),
        (lambda data: data[:8] + b"{not json" + data[17:], "Could not read checkpoint"),
    ],
)
def test_a_damaged_file_is_corrupt(tmp_path, damage, reason):
    from safetensors.numpy import save_file

    path = tmp_path / "w.safetensors"
    save_file({"w": np.ones((4, 4), "float32")}, str(path))
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CorruptCheckpointError, match=reason):
        read_safetensors(path)
