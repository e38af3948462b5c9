"""A .pth whose pickle would run code (os.system, exec, subprocess) is refused as such: the
global is named, nothing runs, and no way around the safety is offered."""

import os
import pickle
import subprocess
import zipfile

import pytest

from keras_minimal.weights import load_reference
from tests.helpers import load_fixture, vanillanet_for

FIXTURE = load_fixture("vanillanet_tiny5")


class _Call:
    """Pickles as a call of `function(*args)`, as a malicious checkpoint does."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def _write_pth(path, payload, zipped):
    """A checkpoint holding `payload`, in torch.save's zip layout or the legacy plain pickle;
    protocol 2, as torch.save writes."""
    data = pickle.dumps({"epoch": 3, "extra": payload}, protocol=2)
    if not zipped:
        path.write_bytes(data)
        return
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data)
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")


def _payloads(marker):
    """(payload writing `marker` when unpickled, the global it calls)."""
    return {
        "os.system": (
            _Call(os.system, f"echo ran > {marker}"),
            f"{os.system.__module__}.system",  # posix.system
        ),
        "exec": (_Call(exec, f"open({str(marker)!r}, 'w').close()"), "builtins.exec"),
        "subprocess": (_Call(subprocess.call, ["touch", str(marker)]), "subprocess.call"),
    }


def _assert_refused_as_code(message, path, function):
    assert f"Refused to load {str(path)!r}: unpickling it would call {function}" in message
    assert "Nothing in the file was executed" in message
    for advice in ("weights_only", "safe_globals", "trust", "corrupt", "download it again"):
        assert advice not in message, message


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "legacy"])
@pytest.mark.parametrize("payload", ["os.system", "exec", "subprocess"])
def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path, payload, zipped):
    marker = tmp_path / "marker"
    call, function = _payloads(marker)[payload]
    path = tmp_path / "evil.pth"
    _write_pth(path, call, zipped)
    with pytest.raises(ValueError) as error:
        load_reference(vanillanet_for(FIXTURE), path)
    _assert_refused_as_code(str(error.value), path, function)
    assert not marker.exists()
    assert path.exists()


def test_the_weights_argument_refuses_it_too(tmp_path):
    marker = tmp_path / "marker"
    call, function = _payloads(marker)["os.system"]
    path = tmp_path / "evil.pth"
    _write_pth(path, call, zipped=True)
    with pytest.raises(ValueError) as error:
        vanillanet_for(FIXTURE, weights=str(path))
    _assert_refused_as_code(str(error.value), path, function)
    assert not marker.exists()


class _TrainingState:
    pass


def test_other_objects_beside_the_tensors_get_no_advice_around_the_safety(tmp_path):
    path = tmp_path / "with_state.pth"
    _write_pth(path, _TrainingState(), zipped=True)
    with pytest.raises(ValueError) as error:
        load_reference(vanillanet_for(FIXTURE), path)
    message = str(error.value)
    assert f"holds a {__name__}._TrainingState object next to its tensors" in message
    assert "nothing in the file was executed" in message
    assert "re-save its state dict alone" in message
    assert "weights_only" not in message


@pytest.mark.parametrize("payload", ["os.system", "exec", "subprocess"])
def test_the_payloads_do_run_when_unpickled_without_the_safety(tmp_path, payload):
    # The control of the refusal test: its "marker not written" means something.
    marker = tmp_path / "marker"
    call, _ = _payloads(marker)[payload]
    pickle.loads(pickle.dumps(call, protocol=2))
    assert marker.exists()
