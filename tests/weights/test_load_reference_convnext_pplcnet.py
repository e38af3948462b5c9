"""load_reference for ConvNeXt (official and timm layouts) and PP-LCNet (timm): layout
detection, headless models, and bad checkpoints (one clear error, nothing loaded)."""

import numpy as np
import pytest

from keras_minimal.applications import ConvNeXt, PPLCNet
from keras_minimal.applications.convnext.checkpoint import checkpoint_architecture, detect_layout
from keras_minimal.weights import load_reference
from tests.helpers import load_fixture

TIMM = load_fixture("convnext_tiny_timm")
OFFICIAL = load_fixture("convnext_tiny_fb")
LCNET = load_fixture("lcnet_050_timm")


def _convnext(depths=(1, 1, 2, 1), dims=(16, 32, 48, 64), **kwargs):
    kwargs.setdefault("classes", 10)
    return ConvNeXt(depths, dims, input_shape=(64, 64, 3), include_preprocessing=False, **kwargs)


def _lcnet(**kwargs):
    kwargs.setdefault("classes", 10)
    return PPLCNet(0.5, input_shape=(96, 96, 3), include_preprocessing=False, **kwargs)


def _snapshot(model):
    return [w.copy() for w in model.get_weights()]


def _assert_untouched(model, snapshot):
    for old, new in zip(snapshot, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def _random_official_state(depths, dims, classes=10, seed=0):
    """An official-layout ConvNeXt state dict of any size (random weights)."""
    rng = np.random.default_rng(seed)
    state = {}

    def put(name, shape):
        state[name] = rng.normal(0, 0.02, shape).astype("float32")

    for i, (depth, dim) in enumerate(zip(depths, dims, strict=True)):
        if i == 0:
            put("downsample_layers.0.0.weight", (dim, 3, 4, 4))
            put("downsample_layers.0.0.bias", (dim,))
            put("downsample_layers.0.1.weight", (dim,))
            put("downsample_layers.0.1.bias", (dim,))
        else:
            put(f"downsample_layers.{i}.0.weight", (dims[i - 1],))
            put(f"downsample_layers.{i}.0.bias", (dims[i - 1],))
            put(f"downsample_layers.{i}.1.weight", (dim, dims[i - 1], 2, 2))
            put(f"downsample_layers.{i}.1.bias", (dim,))
        for j in range(depth):
            p = f"stages.{i}.{j}"
            put(f"{p}.gamma", (dim,))
            put(f"{p}.dwconv.weight", (dim, 1, 7, 7))
            put(f"{p}.dwconv.bias", (dim,))
            put(f"{p}.norm.weight", (dim,))
            put(f"{p}.norm.bias", (dim,))
            put(f"{p}.pwconv1.weight", (4 * dim, dim))
            put(f"{p}.pwconv1.bias", (4 * dim,))
            put(f"{p}.pwconv2.weight", (dim, 4 * dim))
            put(f"{p}.pwconv2.bias", (dim,))
    put("norm.weight", (dims[-1],))
    put("norm.bias", (dims[-1],))
    put("head.weight", (classes, dims[-1]))
    put("head.bias", (classes,))
    return state


def test_layout_detection_and_architecture_reading():
    assert detect_layout(set(OFFICIAL.state_dict)) == "official"
    assert detect_layout(set(TIMM.state_dict)) == "timm"
    assert checkpoint_architecture(OFFICIAL.state_dict, "official") == (
        [1, 1, 2, 1],
        [16, 32, 48, 64],
    )
    assert checkpoint_architecture(TIMM.state_dict, "timm") == ([1, 1, 2, 1], [16, 32, 48, 64])


def test_random_official_state_matches_the_fixture_layout():
    state = _random_official_state((1, 1, 2, 1), (16, 32, 48, 64))
    assert {k: v.shape for k, v in state.items()} == {
        k: v.shape for k, v in OFFICIAL.state_dict.items()
    }


@pytest.mark.parametrize("fixture", [TIMM, OFFICIAL], ids=["timm", "official"])
@pytest.mark.parametrize("pooling", [None, "avg"])
def test_headless_convnext_skips_the_classifier(fixture, pooling):
    model = _convnext(include_top=False, pooling=pooling)
    full = _convnext()
    load_reference(model, fixture.state_dict)
    load_reference(full, fixture.state_dict)
    for layer in model.layers:
        if not layer.weights:
            continue
        expected = full.get_layer(layer.name).get_weights()
        for ours, theirs in zip(layer.get_weights(), expected, strict=True):
            np.testing.assert_array_equal(ours, theirs)


def test_official_checkpoint_of_another_size_names_tensors_and_shapes():
    model = _convnext()
    snapshot = _snapshot(model)
    bigger = _random_official_state((1, 1, 3, 1), (16, 32, 64, 64))
    with pytest.raises(ValueError) as error:
        load_reference(model, bigger)
    message = str(error.value)
    assert "read as a checkpoint in the official (downsample_layers.*" in message
    assert "Unexpected in the checkpoint (9): stages.2.2.dwconv.bias" in message
    assert (
        "downsample_layers.2.1.weight: checkpoint (64, 32, 2, 2), model needs (48, 32, 2, 2)"
        in message
    )
    assert (
        "The checkpoint (official layout: downsample_layers.*, stages.i.j.*, norm, head) was "
        "built with depths=[1, 1, 3, 1] dims=[16, 32, 64, 64]" in message
    )
    assert "this model has depths=[1, 1, 2, 1] dims=[16, 32, 48, 64]" in message
    assert message.endswith("Nothing was loaded.")
    _assert_untouched(model, snapshot)


def test_checkpoint_of_another_family_names_both_layouts():
    with pytest.raises(ValueError) as error:
        load_reference(_convnext(), load_fixture("vanillanet_tiny5").state_dict)
    assert (
        "does not look like a ConvNeXt checkpoint in the official (downsample_layers.*, "
        "stages.i.j.*, norm, head) or timm (stem.*, stages.i.blocks.j.*, head.norm, head.fc) "
        "layout." in str(error.value)
    )


def test_official_tiny_checkpoint_into_convnext_small_names_the_variant():
    small = _random_official_state((3, 3, 9, 3), (96, 192, 384, 768), classes=1000)
    with pytest.raises(ValueError, match="depths=\\[3, 3, 9, 3\\].*as convnext_tiny is"):
        load_reference(_convnext((3, 3, 27, 3), (96, 192, 384, 768), classes=1000), small)


def test_convnext_without_layer_scale_says_which_flag():
    with pytest.raises(ValueError, match="layer_scale_init_value=1e-6"):
        load_reference(_convnext(layer_scale_init_value=None), TIMM.state_dict)


def test_lcnet_head_bias_checkpoint_into_paddle_layout_says_which_flag():
    model = _lcnet(head_bias=False)
    snapshot = _snapshot(model)
    with pytest.raises(
        ValueError, match="conv_head\\) has a bias.*head_bias=False.*Build it with head_bias=True"
    ):
        load_reference(model, LCNET.state_dict)
    _assert_untouched(model, snapshot)
    # Without the classifier the head conv is not part of the model: it loads.
    load_reference(_lcnet(head_bias=False, include_top=False), LCNET.state_dict)


def test_lcnet_checkpoint_of_another_scale():
    model = PPLCNet(1.0, head_bias=True, classes=10, input_shape=(96, 96, 3))
    with pytest.raises(ValueError) as error:
        load_reference(model, LCNET.state_dict)
    message = str(error.value)
    assert "blocks.0.0.bn1.bias: checkpoint (8,), model needs (16,)" in message
    assert (
        "The checkpoint's stem has 8 channels and its last block 256, as pplcnet_x0_5 "
        "(scale=0.5) has; this model has scale=1.0" in message
    )


def test_lcnet_checkpoint_into_a_deploy_model():
    with pytest.raises(ValueError, match="deploy graph.*deploy=False.*to_deploy"):
        load_reference(_lcnet(head_bias=True, deploy=True), LCNET.state_dict)
