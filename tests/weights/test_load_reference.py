import argparse
import re
import zipfile

import keras
import numpy as np
import pytest

from keras_minimal.applications import VanillaNet
from keras_minimal.weights import load_reference, read_checkpoint
from keras_minimal.weights.readers import CorruptCheckpointError
from tests.helpers import assert_matches_reference, load_fixture, vanillanet_for

FIXTURE = load_fixture("vanillanet_tiny5")
REFERENCE = FIXTURE.outputs["train_graph_lambda_1"]


def _model(**kwargs):
    return vanillanet_for(FIXTURE, **kwargs)


def _outputs(model):
    return keras.ops.convert_to_numpy(model(FIXTURE.inputs, training=False))


def _snapshot(model):
    return [w.copy() for w in model.get_weights()]


def _assert_untouched(model, snapshot):
    for old, new in zip(snapshot, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def _assert_refused_as_corrupt(path):
    model = _model()
    snapshot = _snapshot(model)
    with pytest.raises(ValueError, match="truncated, corrupt or not a checkpoint"):
        load_reference(model, path)
    _assert_untouched(model, snapshot)


# --- formats ---------------------------------------------------------------------------


def test_npz(tmp_path):
    path = tmp_path / "vanillanet.npz"
    np.savez(path, **FIXTURE.state_dict)
    assert_matches_reference(_outputs(load_reference(_model(), path)), REFERENCE)


def test_safetensors(tmp_path):
    safetensors = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "vanillanet.safetensors"
    safetensors.save_file(
        {k: np.ascontiguousarray(v) for k, v in FIXTURE.state_dict.items()}, str(path)
    )
    assert_matches_reference(_outputs(load_reference(_model(), str(path))), REFERENCE)


def _torch_state(state):
    torch = pytest.importorskip("torch")
    return {k: torch.from_numpy(np.array(v)) for k, v in state.items()}


@pytest.mark.parametrize("wrapper", [None, "model", "model_ema"])
def test_pth_bare_or_wrapped_like_the_official_training_script(tmp_path, wrapper):
    torch = pytest.importorskip("torch")
    state = _torch_state(FIXTURE.state_dict)
    if wrapper:
        # main.py saves the argparse Namespace and the epoch beside the weights.
        state = {wrapper: state, "epoch": 299, "args": argparse.Namespace(model="vanillanet_5")}
    path = tmp_path / "checkpoint.pth"
    torch.save(state, path)
    assert_matches_reference(_outputs(load_reference(_model(), path)), REFERENCE)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_pth_saved_in_another_precision_loads_as_its_float32_values(tmp_path, dtype):
    torch = pytest.importorskip("torch")
    state = {k: v.to(getattr(torch, dtype)) for k, v in _torch_state(FIXTURE.state_dict).items()}
    path = tmp_path / f"{dtype}.pth"
    torch.save(state, path)
    model = load_reference(_model(), path)
    expected = load_reference(_model(), {k: v.float().numpy() for k, v in state.items()})
    for ours, theirs in zip(model.get_weights(), expected.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_ema_weights_are_preferred_and_key_selects():
    other = {k: np.zeros_like(v) for k, v in FIXTURE.state_dict.items()}
    wrapped = {"model": other, "model_ema": FIXTURE.state_dict}
    assert set(read_checkpoint(wrapped)) == set(FIXTURE.state_dict)
    np.testing.assert_array_equal(
        read_checkpoint(wrapped)["stem1.0.weight"], FIXTURE.state_dict["stem1.0.weight"]
    )
    assert not read_checkpoint(wrapped, key="model")["stem1.0.weight"].any()


@pytest.mark.parametrize("prefix", ["module.", "_orig_mod.", "module._orig_mod."])
def test_ddp_and_torch_compile_prefixes_are_removed(prefix):
    state = {f"{prefix}{k}": v for k, v in FIXTURE.state_dict.items()}
    assert_matches_reference(_outputs(load_reference(_model(), state)), REFERENCE)


def test_timm_train_output_pth_tar(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model_best.pth.tar"  # timm's train.py: {"state_dict": ..., "epoch": ...}
    torch.save({"state_dict": _torch_state(FIXTURE.state_dict), "epoch": 3}, path)
    assert_matches_reference(_outputs(_model(weights=str(path))), REFERENCE)


def test_values_that_are_not_arrays_are_named():
    state = dict(FIXTURE.state_dict, **{"stem1.0.weight": None})
    with pytest.raises(TypeError, match=r"'stem1.0.weight' is not a numeric array.*NoneType"):
        load_reference(_model(), state)
    state = dict(FIXTURE.state_dict, note="trained on digits")
    with pytest.raises(TypeError, match=r"'note' is not a numeric array.*str"):
        load_reference(_model(), state)


def test_constructor_weights_path_and_keras_weights_round_trip(tmp_path):
    path = tmp_path / "vanillanet.npz"
    np.savez(path, **FIXTURE.state_dict)
    model = _model(weights=str(path))
    assert_matches_reference(_outputs(model), REFERENCE)
    h5 = tmp_path / "converted.weights.h5"
    model.save_weights(h5)
    assert_matches_reference(_outputs(_model(weights=str(h5))), REFERENCE)


def test_deploy_model_takes_the_training_graphs_keras_weights(tmp_path):
    # tools/train.py writes the training graph's final_ema.weights.h5.
    path = tmp_path / "final_ema.weights.h5"
    load_reference(_model(), FIXTURE.state_dict).save_weights(path)
    fused = _model(deploy=True, weights=str(path))
    assert_matches_reference(_outputs(fused), FIXTURE.outputs["deploy"])


def test_keras_weights_of_another_architecture_are_refused_by_a_deploy_model(tmp_path):
    path = tmp_path / "other.weights.h5"
    config = FIXTURE.config
    VanillaNet(
        [width // 2 for width in config["dims"]], config["strides"], input_shape=(64, 64, 3)
    ).save_weights(path)
    with pytest.raises(ValueError, match=r"model.save_weights\(\) of the same architecture"):
        _model(deploy=True, weights=str(path))


def test_deploy_model_on_an_input_tensor_of_other_layers_takes_a_training_checkpoint(tmp_path):
    path = tmp_path / "vanillanet.npz"
    np.savez(path, **FIXTURE.state_dict)
    inputs = keras.Input(FIXTURE.inputs.shape[1:])
    # Weighted, so that a copy by position would go wrong; the identity as initialised.
    identity = keras.layers.DepthwiseConv2D(1, depthwise_initializer="ones", name="identity")
    config = FIXTURE.config
    fused = VanillaNet(
        config["dims"],
        config["strides"],
        act_num=config["act_num"],
        classes=config["num_classes"],
        include_preprocessing=False,
        classifier_activation=None,
        input_tensor=identity(inputs),
        deploy=True,
        weights=str(path),
    )
    np.testing.assert_array_equal(identity.get_weights()[0], 1.0)
    assert_matches_reference(_outputs(fused), FIXTURE.outputs["deploy"])


def test_headless_model_skips_the_classifier():
    model = load_reference(_model(include_top=False), FIXTURE.state_dict)
    full = load_reference(_model(), FIXTURE.state_dict)
    np.testing.assert_allclose(
        _outputs(model),
        keras.ops.convert_to_numpy(
            keras.Model(full.input, full.get_layer("stages_2_act").output)(FIXTURE.inputs)
        ),
        rtol=1e-6,
    )


# --- bad input: one clear error, nothing loaded ----------------------------------------


def test_training_checkpoint_into_deploy_model():
    model = _model(deploy=True)
    snapshot = _snapshot(model)
    with pytest.raises(
        ValueError, match="training-form VanillaNet checkpoint.*deploy=False.*to_deploy"
    ):
        load_reference(model, FIXTURE.state_dict)
    _assert_untouched(model, snapshot)


def test_deploy_checkpoint_into_training_model():
    with pytest.raises(ValueError, match="deploy-form VanillaNet checkpoint.*deploy=True"):
        load_reference(_model(), FIXTURE.deploy_state_dict)


def test_timm_convnext_checkpoint_is_not_taken_for_a_deploy_one():
    # timm ConvNeXt also names its stem stem.0/stem.1, as VanillaNet's deploy form does.
    with pytest.raises(ValueError) as error:
        load_reference(_model(), load_fixture("convnext_tiny_timm").state_dict)
    message = str(error.value)
    assert "deploy-form" not in message
    assert "Missing from the checkpoint (76): cls1.2.bias" in message
    assert "Unexpected in the checkpoint" in message and "stages.0.blocks.0.conv_dw" in message


def test_other_act_num_names_the_tensors():
    model = _model(act_num=2)
    snapshot = _snapshot(model)
    with pytest.raises(ValueError) as error:
        load_reference(model, FIXTURE.state_dict)
    message = str(error.value)
    assert "stages.0.act.weight: checkpoint (32, 1, 7, 7), model needs (32, 1, 5, 5)" in message
    assert "act_num=3; this model has act_num=2" in message
    assert message.endswith("Nothing was loaded.")
    _assert_untouched(model, snapshot)


def test_checkpoint_of_another_variant():
    other = load_fixture("vanillanet_tiny8")
    model = _model()
    snapshot = _snapshot(model)
    with pytest.raises(ValueError) as error:
        load_reference(model, other.state_dict)
    message = str(error.value)
    assert "Unexpected in the checkpoint" in message and "stages.3.conv1.0.weight" in message
    assert (
        "stages.0.conv2.0.weight: checkpoint (16, 16, 1, 1), model needs (32, 16, 1, 1)" in message
    )
    assert "dims=[16, 16, 32, 64, 64, 128, 128] (6 stages)" in message
    _assert_untouched(model, snapshot)


def test_missing_tensors_are_listed():
    state = dict(FIXTURE.state_dict)
    del state["cls2.0.bias"], state["stages.1.act.bn.running_var"]
    with pytest.raises(
        ValueError,
        match=r"Missing from the checkpoint \(2\): cls2.0.bias, stages.1.act.bn.running_var",
    ):
        load_reference(_model(), state)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors", ".npz"])
def test_truncated_file(tmp_path, suffix):
    if suffix == ".pth":
        torch = pytest.importorskip("torch")
        writer = lambda p: torch.save(_torch_state(FIXTURE.state_dict), p)  # noqa: E731
    elif suffix == ".safetensors":
        safetensors = pytest.importorskip("safetensors.numpy")
        writer = lambda p: safetensors.save_file(dict(FIXTURE.state_dict), str(p))  # noqa: E731
    else:
        writer = lambda p: np.savez(p, **FIXTURE.state_dict)  # noqa: E731
    path = tmp_path / f"checkpoint{suffix}"
    writer(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _assert_refused_as_corrupt(path)


def test_pickled_code_is_refused(tmp_path):
    torch = pytest.importorskip("torch")

    path = tmp_path / "evil.pth"
    torch.save({"model": _torch_state(FIXTURE.state_dict), "hook": _Unsafe()}, path)
    with pytest.raises(
        ValueError, match=r"holds a tests\.weights\.test_load_reference\._Unsafe object.*for safety"
    ):
        load_reference(_model(), path)


def test_training_script_objects_are_named_not_called_corrupt(tmp_path):
    torch = pytest.importorskip("torch")

    path = tmp_path / "with_metric.pth"
    torch.save({"model": _torch_state(FIXTURE.state_dict), "acc": np.float64(0.8)}, path)
    with pytest.raises(ValueError) as error:
        load_reference(_model(), path)
    message = str(error.value)
    assert "holds a numpy" in message and "re-save its state dict alone" in message
    assert "corrupt" not in message


def test_npz_whose_compressed_data_is_damaged(tmp_path):
    path = tmp_path / "checkpoint.npz"
    np.savez_compressed(path, **FIXTURE.state_dict)
    with zipfile.ZipFile(path) as archive:
        member = archive.infolist()[0]
    data = bytearray(path.read_bytes())
    header = member.header_offset  # local header: 30 bytes, then file name and extra field
    name_length, extra_length = (
        int.from_bytes(data[header + i : header + i + 2], "little") for i in (26, 28)
    )
    # A deflate block of the reserved type 11: zlib.error, not BadZipFile.
    data[header + 30 + name_length + extra_length] = 0xFF
    path.write_bytes(bytes(data))
    _assert_refused_as_corrupt(path)


def test_single_array_saved_as_npz(tmp_path):
    path = tmp_path / "checkpoint.npz"
    with open(path, "wb") as file:
        np.save(file, FIXTURE.state_dict["stem1.0.weight"])
    with pytest.raises(ValueError, match="a single ndarray, not an .npz archive"):
        load_reference(_model(), path)


def test_torchscript_archive_says_how_to_save_its_state_dict(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), path)
    with pytest.raises(
        ValueError, match=r"TorchScript archive.*torch.jit.load\(path\).state_dict"
    ) as error:
        load_reference(_model(), path)
    assert not isinstance(error.value, CorruptCheckpointError)  # intact: no download to redo


def test_torch_file_without_a_state_dict(tmp_path):
    torch = pytest.importorskip("torch")

    path = tmp_path / "tensor.pth"
    torch.save(torch.zeros(3), path)
    with pytest.raises(
        TypeError, match=r"holds a state dict.*Received: a single tensor of shape \(3,\)"
    ):
        load_reference(_model(), path)


def test_mapping_with_non_string_keys():
    with pytest.raises(TypeError, match=r"keyed by parameter names.*Received keys: \[0\]"):
        load_reference(_model(), {0: np.zeros(3)})


class _Unsafe:
    pass


def test_unsupported_and_missing_files(tmp_path):
    with pytest.raises(ValueError, match="Checkpoint file not found"):
        load_reference(_model(), tmp_path / "nope.pth")
    (tmp_path / "weights.onnx").write_bytes(b"x")
    with pytest.raises(ValueError, match="Unsupported checkpoint format"):
        load_reference(_model(), tmp_path / "weights.onnx")
    with pytest.raises(ValueError, match="Unsupported checkpoint format"):
        _model(weights=str(tmp_path / "weights.onnx"))
    for name in ("model.weights.h5", "Model.WEIGHTS.H5"):
        (tmp_path / name).write_bytes(b"x")
        with pytest.raises(ValueError, match="is a Keras weights file"):
            load_reference(_model(), tmp_path / name)


def test_a_directory_is_named_as_one_with_the_checkpoints_it_holds(tmp_path):
    folder = tmp_path / "downloaded"
    folder.mkdir()
    with pytest.raises(ValueError, match=r"is a directory, not a file; it holds no checkpoint"):
        load_reference(_model(), folder)
    np.savez(folder / "model.npz", **FIXTURE.state_dict)
    (folder / "README.md").write_text("weights")
    expected = (
        r"is a directory, not a file; it holds model\.npz: pass one of them, e\.g\. "
        rf"'{re.escape(str(folder / 'model.npz'))}'\. Received: '{re.escape(str(folder))}'"
    )
    with pytest.raises(ValueError, match=expected):
        load_reference(_model(), folder)
    with pytest.raises(ValueError, match=expected):
        _model(weights=str(folder))


def test_a_checkpoint_with_another_number_of_classes_says_so():
    # The VanillaNet head: cls1 (→ classes, with its BN) and cls2 (classes → classes).
    with pytest.raises(
        ValueError,
        match=r"classifier has 10 classes, this model's 7: build it with classes=10, or with "
        r"include_top=False",
    ):
        load_reference(_model(classes=7), FIXTURE.state_dict)


def test_deploy_model_from_training_keras_weights_warns_of_no_skipped_layers(tmp_path):
    # The direct load of the training graph's file into the deploy graph fails (and falls
    # back to load-then-fuse); Keras' warnings from that failed attempt ("Affected layers will
    # retain their freshly-initialized weights") described a load that did not happen.
    import warnings

    path = tmp_path / "final_ema.weights.h5"
    load_reference(_model(), FIXTURE.state_dict).save_weights(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fused = _model(deploy=True, weights=str(path))
    messages = [str(w.message) for w in caught]
    assert not [m for m in messages if "freshly-initialized" in m], messages
    assert_matches_reference(_outputs(fused), FIXTURE.outputs["deploy"])


def test_a_kernel_with_its_axes_swapped_names_the_tensor_and_the_axes():
    state = dict(FIXTURE.state_dict)
    stem = state["stem1.0.weight"]
    assert stem.shape[0] != stem.shape[1]
    state["stem1.0.weight"] = stem.transpose(1, 0, 2, 3)  # (in, out, kh, kw)
    model = _model()
    snapshot = _snapshot(model)
    with pytest.raises(ValueError) as error:
        load_reference(model, state)
    message = str(error.value)
    swapped = (stem.shape[1], stem.shape[0], *stem.shape[2:])
    expected = (
        f"stem1.0.weight: checkpoint {swapped}, model needs {tuple(stem.shape)} (the same "
        "sizes in another axis order: "
        "np.transpose(tensor, (1, 0, 2, 3)) gives the model's)"
    )
    assert expected in message
    assert "saved with transposed kernels" in message
    assert "The checkpoint was built with dims" not in message  # not another variant
    _assert_untouched(model, snapshot)
