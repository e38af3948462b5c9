"""Checkpoints holding NaN or ±inf: refused, naming the tensors, before anything is assigned;
allow_nonfinite=True loads them as they are."""

import argparse

import keras
import ml_dtypes
import numpy as np
import pytest

from keras_minimal import model_families
from keras_minimal.weights import convert_checkpoint, load_reference
from tests.helpers import assert_matches_reference, load_fixture, vanillanet_for

FIXTURE = load_fixture("vanillanet_tiny5")
REFERENCE = FIXTURE.outputs["train_graph_lambda_1"]
TENSORS = len(FIXTURE.state_dict)


def _poisoned(values_at):
    """The fixture's state dict with {name: [(flat index, value), ...]} written in."""
    state = dict(FIXTURE.state_dict)
    for name, changes in values_at.items():
        array = state[name].copy()
        for index, value in changes:
            array.flat[index] = value
        state[name] = array
    return state


def _snapshot(model):
    return [w.copy() for w in model.get_weights()]


def _assert_untouched(model, snapshot):
    for old, new in zip(snapshot, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def _outputs(model):
    return keras.ops.convert_to_numpy(model(FIXTURE.inputs, training=False))


NAN_IN_ONE = {"stages.1.conv2.0.weight": [(0, np.nan), (5, np.nan)]}


def test_nan_and_inf_tensors_are_named_with_counts_and_nothing_is_loaded():
    state = _poisoned(
        {
            **NAN_IN_ONE,
            "stem1.1.running_var": [(2, np.inf)],
            "cls2.0.bias": [(0, -np.inf), (1, np.nan)],
        }
    )
    model = vanillanet_for(FIXTURE)
    snapshot = _snapshot(model)
    with pytest.raises(ValueError) as error:
        load_reference(model, state)
    message = str(error.value)
    assert f"NaN or infinite values in 3 of the {TENSORS} tensors to load" in message
    assert "cls2.0.bias (1 NaN, 1 -inf of 10 values)" in message
    assert "stages.1.conv2.0.weight (2 NaN of 2048 values)" in message
    assert "stem1.1.running_var (1 +inf of 16 values)" in message
    assert "Nothing was loaded" in message
    assert "pass allow_nonfinite=True" in message and "--allow_nonfinite" in message
    assert "disable" not in message
    _assert_untouched(model, snapshot)


def test_many_nonfinite_tensors_are_counted_and_a_few_named():
    state = {name: np.full_like(array, np.nan) for name, array in FIXTURE.state_dict.items()}
    with pytest.raises(ValueError) as error:
        load_reference(vanillanet_for(FIXTURE), state)
    message = str(error.value)
    assert f"in {TENSORS} of the {TENSORS} tensors to load" in message
    assert f"… ({TENSORS - 8} more)" in message


def _save(path, state, wrapper):
    if path.suffix == ".npz":
        np.savez(path, **state)
        return
    torch = pytest.importorskip("torch")
    tensors = {name: torch.from_numpy(np.array(array)) for name, array in state.items()}
    if wrapper:
        # The official training script keeps its argparse Namespace beside the weights.
        tensors = {wrapper: tensors, "epoch": 3, "args": argparse.Namespace(model="tiny")}
    torch.save(tensors, path)


@pytest.mark.parametrize(
    ("filename", "wrapper"),
    [("bare.npz", None), ("bare.pth", None), ("model.pth", "model"), ("ema.pth", "model_ema")],
)
def test_checkpoint_files_bare_or_wrapped_are_checked(tmp_path, filename, wrapper):
    path = tmp_path / filename
    _save(path, _poisoned(NAN_IN_ONE), wrapper)
    model = vanillanet_for(FIXTURE)
    snapshot = _snapshot(model)
    with pytest.raises(ValueError, match=r"stages\.1\.conv2\.0\.weight \(2 NaN of 2048 values\)"):
        load_reference(model, path)
    _assert_untouched(model, snapshot)


def test_the_check_covers_the_state_dict_that_is_loaded():
    poisoned = _poisoned(NAN_IN_ONE)
    ema_diverged = {"model": FIXTURE.state_dict, "model_ema": poisoned}
    with pytest.raises(ValueError, match=r"stages\.1\.conv2\.0\.weight \(2 NaN"):
        load_reference(vanillanet_for(FIXTURE), ema_diverged)  # model_ema is taken by default
    model = load_reference(vanillanet_for(FIXTURE), ema_diverged, key="model")
    assert_matches_reference(_outputs(model), REFERENCE)
    # NaN in the state dict that is not taken does not matter.
    model = load_reference(
        vanillanet_for(FIXTURE), {"model": poisoned, "model_ema": FIXTURE.state_dict}
    )
    assert_matches_reference(_outputs(model), REFERENCE)


def test_a_headless_model_ignores_the_classifier_it_does_not_load():
    state = _poisoned({"cls2.0.bias": [(0, np.nan)], "cls1.2.weight": [(3, np.inf)]})
    model = load_reference(vanillanet_for(FIXTURE, include_top=False), state)
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_bfloat16_arrays_are_checked():
    state = dict(FIXTURE.state_dict)
    bias = state["stem1.0.bias"].astype(ml_dtypes.bfloat16)
    bias[4] = np.nan
    state["stem1.0.bias"] = bias
    with pytest.raises(ValueError, match=r"stem1\.0\.bias \(1 NaN of 16 values\)"):
        load_reference(vanillanet_for(FIXTURE), state)


def _variable(model, reference_name):
    return (
        model_families.registered_families()["vanillanet"]
        .reference_layout(model)
        .targets[reference_name]
        .variable
    )


def test_allow_nonfinite_loads_the_values_as_they_are():
    state = _poisoned({"stem1.1.running_mean": [(3, np.nan)], "cls2.0.bias": [(0, np.inf)]})
    model = load_reference(vanillanet_for(FIXTURE), state, allow_nonfinite=True)
    for name in ("stem1.1.running_mean", "cls2.0.bias"):
        loaded = keras.ops.convert_to_numpy(_variable(model, name))
        np.testing.assert_array_equal(loaded, state[name])  # NaN where NaN, inf where inf


@pytest.mark.parametrize("deploy", [False, True])
def test_weights_argument_refuses_a_nonfinite_checkpoint(tmp_path, deploy):
    # A deploy model loads the training checkpoint into the training graph, then fuses.
    path = tmp_path / "diverged.npz"
    np.savez(path, **_poisoned(NAN_IN_ONE))
    with pytest.raises(ValueError, match=r"stages\.1\.conv2\.0\.weight \(2 NaN.*allow_nonfinite"):
        vanillanet_for(FIXTURE, deploy=deploy, weights=str(path))


def test_convert_checkpoint_writes_nothing_unless_allowed(tmp_path):
    output = tmp_path / "diverged.weights.h5"
    state = _poisoned(NAN_IN_ONE)
    with pytest.raises(ValueError, match=r"stages\.1\.conv2\.0\.weight \(2 NaN"):
        convert_checkpoint(vanillanet_for(FIXTURE), state, output)
    assert not list(tmp_path.iterdir())
    convert_checkpoint(vanillanet_for(FIXTURE), state, output, allow_nonfinite=True)
    model = vanillanet_for(FIXTURE, weights=str(output))
    loaded = keras.ops.convert_to_numpy(_variable(model, "stages.1.conv2.0.weight"))
    assert np.isnan(loaded).sum() == 2
