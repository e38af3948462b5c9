"""Parity with timm's dm_nfnet layout (fixture made with timm 1.0.31), on every backend."""

import numpy as np
import pytest

from keras_minimal.deploy import to_deploy
from keras_minimal.weights import load_reference
from tests.helpers import assert_matches_reference, load_fixture, nfnet_for

pytestmark = pytest.mark.multibackend


@pytest.fixture(scope="module")
def fixture():
    return load_fixture("nfnet_tiny_dm")


def _haiku_checkpoint(state_dict, depths, dotted=False):
    """The fixture's weights under DeepMind's Haiku names and layouts (nfnets/nfnet.py)."""
    blocks = [f"stages.{s}.{b}" for s, depth in enumerate(depths) for b in range(depth)]
    modules = {f"stem.conv{i + 1}": f"stem_conv{i}" for i in range(4)}
    modules.update({"final_conv": "final_conv", "head.fc": "linear"})
    for i, block in enumerate(blocks):
        name = "nf_block" if i == 0 else f"nf_block_{i}"
        modules.update(
            {
                block: name,
                f"{block}.conv1": f"{name}/~/conv0",
                f"{block}.conv2": f"{name}/~/conv1",
                f"{block}.conv2b": f"{name}/~/conv1b",
                f"{block}.conv3": f"{name}/~/conv2",
                f"{block}.downsample.conv": f"{name}/~/conv_shortcut",
                f"{block}.attn_last.fc1": f"{name}/~/squeeze_excite/~/linear",
                f"{block}.attn_last.fc2": f"{name}/~/squeeze_excite/~/linear_1",
            }
        )
    haiku = {}
    for key, array in state_dict.items():
        module, param = key.rsplit(".", 1)
        is_linear = module == "head.fc" or ".attn_last." in module
        if param == "skipinit_gain":
            param = "skip_gain"
        elif param == "weight":
            param = "w"
            if array.ndim == 4 and not is_linear:
                array = array.transpose(2, 3, 1, 0)  # OIHW → HWIO
            else:
                array = array.reshape(array.shape[0], -1).T  # → (in, out)
        elif param == "bias":
            param = "b" if is_linear else "bias"
        elif param == "gain":
            array = array.reshape(-1)
        name = f"NFNet/~/{modules[module]}/{param}"
        haiku[name.replace("/~/", ".").replace("/", ".") if dotted else name] = array
    return haiku


def test_timm_dm_checkpoint_reproduces_the_reference_logits(fixture):
    model = load_reference(nfnet_for(fixture), fixture.state_dict)
    assert_matches_reference(model(fixture.inputs, training=False), fixture.outputs["logits"])


@pytest.mark.parametrize("dotted", [False, True])
def test_deepmind_haiku_names_load_to_the_same_logits(fixture, tmp_path, dotted):
    depths = fixture.meta["dm_nfnet_cfg_args"]["depths"]
    haiku = _haiku_checkpoint(fixture.state_dict, depths, dotted)
    assert "NFNet/~/nf_block_4/~/squeeze_excite/~/linear_1/w" in haiku or dotted
    path = tmp_path / "haiku.npz"
    np.savez(path, **haiku)
    model = load_reference(nfnet_for(fixture), path)
    assert_matches_reference(model(fixture.inputs, training=False), fixture.outputs["logits"])


def test_deepmind_haiku_params_in_their_nested_form(fixture):
    # What haiku.transform(...).init returns: {module: {param: array}}.
    flat = _haiku_checkpoint(fixture.state_dict, fixture.meta["dm_nfnet_cfg_args"]["depths"])
    nested = {}
    for name, array in flat.items():
        module, param = name.rsplit("/", 1)
        nested.setdefault(module, {})[param] = array
    model = load_reference(nfnet_for(fixture), nested)
    assert_matches_reference(model(fixture.inputs, training=False), fixture.outputs["logits"])


def test_to_deploy_of_the_loaded_model_reproduces_the_reference(fixture):
    model = load_reference(nfnet_for(fixture), fixture.state_dict)
    fused = to_deploy(model)
    assert_matches_reference(fused(fixture.inputs, training=False), fixture.outputs["logits"])
