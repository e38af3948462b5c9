"""reference="deepmind": DeepMind's own definition of NFNet (nfnets/nfnet.py) for any width
table — its stem, width rounding, GELU and weight standardisation (TensorFlow; symbolic)."""

import json

import keras
import numpy as np
import pytest

from keras_minimal.applications import NFNet, NFNetF0, NFNetF7
from keras_minimal.applications.nfnet.model import NONLINEARITY_GAINS
from keras_minimal.layers import ScaledActivation, WSConv2D, exact_gelu, gelu_approximate
from tests.helpers import DATA, trainable_param_count
from tests.nfnet_param_count import deepmind_nfnet_param_count

# DeepMind's base.nfnet_params "F0+": the F-model widths × 1.5 (width[0] = 384).
F0_PLUS = {"depths": (1, 2, 6, 3), "channels": (384, 768, 2048, 2048)}


def _symbolic(builder, **kwargs):
    with keras.StatelessScope(initialize_variables=False):
        return builder(**kwargs)


def _stem(model):
    return [model.get_layer(f"stem_conv{i}").filters for i in range(1, 5)]


def test_the_deepmind_counting_matches_deepmind_s_own_tiny_model():
    # The parameter count of the fixture's tree, written by DeepMind's code itself.
    meta = json.loads(str(np.load(DATA / "nfnet_haiku_tiny_case.npz")["meta"]))
    params = meta["constructor"]["variant_params"]
    count = deepmind_nfnet_param_count(
        params["depth"], params["width"], params["group_width"][0], classes=10
    )
    assert count == meta["n_parameters"]


def test_any_deepmind_width_table_builds_exactly():
    model = _symbolic(NFNet, **F0_PLUS, reference="deepmind")
    assert _stem(model) == [16, 32, 64, 192]  # width[0] // 2
    # 384 × 0.5 = 192 rounds down to one group of 128; the others are whole groups already.
    assert model.get_layer("stages_0_0_conv1").filters == 128
    assert model.get_layer("stages_0_0_conv2").groups == 1
    assert model.get_layer("stages_1_0_conv1").filters == 384
    assert trainable_param_count(model) == deepmind_nfnet_param_count(**F0_PLUS)


def test_timm_keeps_its_stem_and_refuses_widths_that_groups_do_not_divide():
    table = {"depths": (1,), "channels": (128,), "group_size": 64}
    assert _stem(_symbolic(NFNet, **table)) == [16, 32, 64, 128]  # timm: 128 for any table
    assert _stem(_symbolic(NFNet, **table, reference="deepmind")) == [16, 32, 64, 64]
    assert _stem(_symbolic(NFNet, **table, stem_chs=48, reference="deepmind")) == [16, 32, 64, 48]
    with pytest.raises(ValueError, match=r"or reference=\"deepmind\", which rounds the width down"):
        NFNet(**F0_PLUS)


@pytest.mark.parametrize("width, hidden", [(40, 20), (120, 60), (256, 128)])
def test_squeeze_excite_width_is_deepmind_s_integer_part(width, hidden):
    model = _symbolic(
        NFNet, depths=[1], channels=[width], group_size=width // 2, reference="deepmind"
    )
    assert model.get_layer("stages_0_0_se_fc1").units == hidden


def test_deepmind_reference_brings_its_gelu_and_weight_standardization():
    model = _symbolic(NFNetF0, reference="deepmind")
    assert model.variant == "nfnet_f0"  # the same published model, DeepMind's numerics
    config = model.builder_config
    assert (config["activation"], config["weight_standardization"], config["reference"]) == (
        "gelu_approximate",
        "deepmind",
        "deepmind",
    )
    convs = [layer for layer in model.layers if isinstance(layer, WSConv2D)]
    assert {(c.standardization, c.epsilon) for c in convs} == {("deepmind", 1e-4)}
    activations = [layer for layer in model.layers if isinstance(layer, ScaledActivation)]
    assert {layer.activation for layer in activations} == {gelu_approximate}
    assert model.get_layer("stem_act2").scale == NONLINEARITY_GAINS["gelu"]
    # Explicit choices stay theirs.
    own = _symbolic(NFNetF0, reference="deepmind", activation="gelu", weight_standardization="timm")
    assert {layer.activation for layer in own.layers if isinstance(layer, ScaledActivation)} == {
        exact_gelu
    }
    assert own.variant is None  # DeepMind did not train with the exact GELU
    timm = _symbolic(NFNetF0)
    assert (timm.builder_config["activation"], timm.builder_config["reference"]) == (
        "gelu",
        "timm",
    )


def test_deepmind_imagenet_weights_select_the_deepmind_reference_and_refuse_another():
    with pytest.raises(ValueError) as error:
        NFNetF0(weights="imagenet_deepmind", reference="timm")
    message = str(error.value)
    assert 'weights="imagenet_deepmind" are the weights of reference="deepmind"' in message
    assert 'use weights="imagenet"' in message and "Received: reference='timm'" in message
    with pytest.raises(ValueError, match=r'weights="imagenet_deepmind" do not exist for nfnet_f7'):
        NFNetF7(weights="imagenet_deepmind")
    with pytest.raises(ValueError, match=r"classes should be 1000.*Received: classes=10"):
        NFNetF0(weights="imagenet_deepmind", classes=10)
    with pytest.raises(ValueError, match=r'weights must be None, "imagenet", "imagenet_deepmind"'):
        NFNetF0(weights="imagenet_dm")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"reference": "haiku"}, r"reference must be one of \['deepmind', 'timm'\].*'haiku'"),
        (
            {"reference": "deepmind", "group_size": 256},
            r"group_size=256 is wider than the grouped convolutions of the stage of width 384 "
            r"\(384 × bottle_ratio 0.5 = 192 channels\)",
        ),
    ],
)
def test_errors_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NFNet(**F0_PLUS, **kwargs)
