import io
import os
import pickle

import numpy as np
import pytest

from keras_minimal.weights.pickle_refusals import PickledCodeError
from keras_minimal.weights.restricted_pickle import (
    CONTAINER_GLOBALS,
    NUMPY_GLOBALS,
    restricted_load,
)

ALLOWED = {**CONTAINER_GLOBALS, **NUMPY_GLOBALS}


@pytest.mark.parametrize("protocol", [2, 4])
def test_numpy_arrays_and_containers_round_trip(protocol):
    import collections

    state = collections.OrderedDict(
        a=np.arange(6, dtype="float32").reshape(2, 3),
        b=np.array([1, 2], dtype="int64")[::-1],
        c=np.float32(2.5),
        d={"nested": np.ones((1,), "float16")},
    )
    loaded = restricted_load(io.BytesIO(pickle.dumps(state, protocol=protocol)), "x", ALLOWED)
    assert list(loaded) == list(state) and isinstance(loaded, collections.OrderedDict)
    for key in ("a", "b"):
        np.testing.assert_array_equal(loaded[key], state[key])
        assert loaded[key].dtype == state[key].dtype
    assert loaded["c"] == np.float32(2.5) and loaded["d"]["nested"].dtype == np.float16


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_global_outside_the_allow_list_is_refused_before_it_runs(tmp_path):
    marker = tmp_path / "ran"
    payload = pickle.dumps({"weight": np.zeros(2), "x": _RunsCode(marker)}, protocol=2)
    with pytest.raises(PickledCodeError, match=r"would call posix.system.*Nothing in the file"):
        restricted_load(io.BytesIO(payload), "evil.pdparams", ALLOWED)
    assert not marker.exists()
    pickle.loads(payload)  # the control: an ordinary unpickler runs it
    assert marker.exists()


def test_an_object_that_is_not_weights_is_named():
    import argparse

    payload = pickle.dumps({"args": argparse.Namespace(lr=0.1)})
    with pytest.raises(ValueError, match="holds a argparse.Namespace object"):
        restricted_load(io.BytesIO(payload), "ckpt.pdparams", ALLOWED)
