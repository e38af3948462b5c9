"""load_reference for PP-LCNet in PaddleClas' layout (.pdparams): detection next to timm's,
headless models, conversion to .weights.h5, and checkpoints of another form (one clear
error naming the option to set, nothing loaded)."""

import keras
import numpy as np
import pytest

from keras_minimal.applications import PPLCNet
from keras_minimal.applications.pplcnet.checkpoint import detect_layout
from keras_minimal.weights import convert_checkpoint, load_reference, read_checkpoint
from tests.helpers import DATA, assert_matches_reference, load_fixture

X0_25 = DATA / "pplcnet_paddle_x0_25.pdparams"  # default options, 10 classes
NOLAST = DATA / "pplcnet_paddle_x0_5_relu_nolast.pdparams"  # act="relu", no last conv, 7
LCNET = load_fixture("lcnet_050_timm")


def _x0_25(**kwargs):
    kwargs.setdefault("classes", 10)
    return PPLCNet(0.25, input_shape=(64, 64, 3), include_preprocessing=False, **kwargs)


def _snapshot(model):
    return [w.copy() for w in model.get_weights()]


def _assert_untouched(model, snapshot):
    for old, new in zip(snapshot, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def _refused(model, source, *phrases):
    snapshot = _snapshot(model)
    with pytest.raises(ValueError) as error:
        load_reference(model, source)
    message = str(error.value)
    for phrase in phrases:
        assert phrase in message, message
    assert message.endswith("Nothing was loaded.")
    _assert_untouched(model, snapshot)


def test_layouts_are_told_apart_by_their_names():
    assert detect_layout(set(read_checkpoint(X0_25))) == "paddle"
    assert detect_layout(set(read_checkpoint(NOLAST))) == "paddle"
    assert detect_layout(set(LCNET.state_dict)) == "timm"


def test_headless_model_takes_the_backbone_and_skips_the_head():
    fixture = load_fixture("pplcnet_paddle_x0_25")
    full = load_reference(_x0_25(classifier_activation=None), X0_25)
    headless = load_reference(_x0_25(include_top=False), X0_25)
    features = keras.Model(full.input, full.get_layer("blocks6_1_pw_act").output)
    assert_matches_reference(headless(fixture.inputs), features(fixture.inputs))


def test_checkpoint_with_the_last_conv_into_a_model_without_it():
    _refused(
        _x0_25(use_last_conv=False),
        X0_25,
        "has the 1×1 last conv (last_conv) but this model was built with use_last_conv=False",
        "Build it with use_last_conv=True",
    )
    # timm's layout, the same diagnosis.
    _refused(
        PPLCNet(0.5, head_bias=True, use_last_conv=False, classes=10, input_shape=(96, 96, 3)),
        LCNET.state_dict,
        "has the 1×1 last conv (conv_head)",
    )


def test_checkpoint_without_the_last_conv_into_a_model_with_it():
    _refused(
        PPLCNet(0.5, act="relu", classes=7, input_shape=(65, 65, 3)),
        NOLAST,
        "has no 1×1 last conv (last_conv) before its classifier",
        "Build it with use_last_conv=False",
    )


def test_paddle_checkpoint_into_a_model_with_the_timm_head_bias():
    _refused(_x0_25(head_bias=True), X0_25, "no bias, as PaddleClas' models", "head_bias=False")


def test_paddle_checkpoint_of_another_scale_names_it():
    _refused(
        PPLCNet(0.5, classes=10, input_shape=(64, 64, 3)),
        X0_25,
        "blocks2.0.pw_conv.conv.weight: checkpoint (8, 8, 1, 1), model needs (16, 8, 1, 1)",
        "The checkpoint's stem has 8 channels and its last block 128, as pplcnet_x0_25 "
        "(scale=0.25) has; this model has scale=0.5",
    )


def test_paddle_checkpoint_of_another_class_expand_names_it():
    _refused(
        _x0_25(class_expand=640),
        X0_25,
        "last_conv.weight: checkpoint (1280, 128, 1, 1), model needs (640, 128, 1, 1)",
        "build it with class_expand=1280",
    )


def test_paddle_checkpoint_of_another_class_count_names_it():
    _refused(_x0_25(classes=7), X0_25, "classifier has 10 classes, this model's 7")


def test_paddle_checkpoint_into_a_deploy_model_directly():
    with pytest.raises(ValueError, match="deploy graph.*deploy=False.*to_deploy"):
        load_reference(_x0_25(deploy=True), X0_25)


def test_converted_pdparams_loads_as_a_keras_weights_file(tmp_path):
    fixture = load_fixture("pplcnet_paddle_x0_25")
    output = tmp_path / "pplcnet_x0_25.weights.h5"
    convert_checkpoint(_x0_25(classifier_activation=None), X0_25, output)
    model = _x0_25(classifier_activation=None, weights=str(output))
    assert_matches_reference(model(fixture.inputs, training=False), fixture.outputs["logits"])


def test_a_checkpoint_of_neither_layout_says_which_layouts_are_read():
    _refused(
        _x0_25(),
        {"stem.weight": np.zeros((8, 3, 3, 3), "float32")},
        "does not look like a PP-LCNet checkpoint in PaddleClas' layout (conv1, blocks2 … "
        "blocks6, last_conv, fc) or timm's layout",
    )
