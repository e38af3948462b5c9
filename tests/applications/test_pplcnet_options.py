"""PaddleClas' PPLCNet options: stride_list (per-axis strides), use_last_conv, act and
class_expand, with PaddleClas' semantics, checked and recorded so that models rebuild."""

import json

import keras
import numpy as np
import pytest

from keras_minimal import model_families
from keras_minimal.applications import BackboneModel, PPLCNet, PPLCNet_x0_25
from keras_minimal.applications.channels import make_divisible
from keras_minimal.applications.pplcnet.variants import NET_CONFIG
from tests.helpers import randomize_batch_norms, trainable_param_count
from tests.numpy_reference import depthwise_conv2d

pytestmark = pytest.mark.multibackend

OCR_STRIDES = [2, [2, 1], [2, 1], [2, 1], [2, 1]]  # PP-OCR's text-line models


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


def _outputs(model, names, x):
    probe = keras.Model(model.input, {n: model.get_layer(n).output for n in names})
    outputs = probe(x, training=False)
    return [_numpy(outputs[n]) for n in names]


def _expected_stage_shapes(height, width, stride_list):
    """PaddleClas: stride_list[0] strides conv1, stride_list[i] the first block of
    blocks{i+2} (i ≥ 1); every k×k conv pads (k − 1)//2, so a side n becomes (n − 1)//s + 1."""
    pairs = [s if isinstance(s, list) else [s, s] for s in stride_list]
    sides = [(height - 1) // pairs[0][0] + 1, (width - 1) // pairs[0][1] + 1]
    shapes = {}
    for stage in NET_CONFIG:
        if stage != "blocks2":
            sh, sw = pairs[int(stage[-1]) - 2]
            sides = [(sides[0] - 1) // sh + 1, (sides[1] - 1) // sw + 1]
        shapes[stage] = tuple(sides)
    return shapes


@pytest.mark.parametrize(
    "stride_list", [OCR_STRIDES, [1, 2, 2, 2, 2], [[1, 2], 2, [1, 2], 1, [2, 2]]]
)
def test_stride_list_strides_the_stem_and_the_first_block_of_blocks3_to_6(stride_list):
    model = PPLCNet(0.25, stride_list=stride_list, input_shape=(33, 97, 3), include_top=False)
    expected = _expected_stage_shapes(33, 97, stride_list)
    for stage, blocks in NET_CONFIG.items():
        shape = model.get_layer(f"{stage}_{len(blocks) - 1}_pw_act").output.shape
        assert tuple(shape[1:3]) == expected[stage], (stage, stride_list)


def test_a_height_only_stride_pads_symmetrically_like_paddle():
    """blocks3_0's depthwise 3×3 at stride [2, 1], padding 1, against numpy."""
    model = PPLCNet(
        0.25, stride_list=OCR_STRIDES, input_shape=(32, 40, 3), include_preprocessing=False
    )
    x = np.random.default_rng(0).normal(size=(1, 32, 40, 3)).astype("float32")
    block_input, depthwise = _outputs(model, ["blocks2_0_pw_act", "blocks3_0_dw_conv"], x)
    kernel = _numpy(model.get_layer("blocks3_0_dw_conv").kernel)
    expected = depthwise_conv2d(block_input, kernel, padding=1)[:, ::2, ::1]
    assert depthwise.shape == (1, 8, 20, kernel.shape[2])
    np.testing.assert_allclose(depthwise, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "stride_list",
    [
        [2, 2, 2, 2],
        [2, 2, 2, 2, 2, 2],
        [2, 2, 2, 2, 0],
        [2, [2, 1, 1], 2, 2, 2],
        [2, 2.0, 2, 2, 2],
        [2, True, 2, 2, 2],
        "22222",
        None,
    ],
)
def test_a_bad_stride_list_is_refused_before_anything_is_built(stride_list):
    with pytest.raises(
        ValueError, match=r"stride_list must hold 5 strides.*Received: stride_list="
    ):
        PPLCNet(0.25, stride_list=stride_list)


def test_minimum_input_size_follows_each_axis_total_stride():
    # PP-OCR's strides: height 2·2·2·2·2 = 32, width 2.
    with pytest.raises(ValueError, match="the height must be at least 32 and the width 2 pixels"):
        PPLCNet(0.25, stride_list=OCR_STRIDES, input_shape=(16, 320, 3))
    model = PPLCNet(0.25, stride_list=OCR_STRIDES, input_shape=(32, 2, 3), include_top=False)
    assert tuple(model.output.shape[1:3]) == (1, 1)


def test_pyramid_levels_follow_the_strides():
    ocr = PPLCNet(0.25, stride_list=OCR_STRIDES, input_shape=(32, 64, 3), include_top=False)
    assert ocr.pyramid_outputs == {}  # no stage has a square stride 2^k
    finer = PPLCNet(0.25, stride_list=[1, 2, 2, 2, 2], input_shape=(64, 64, 3), include_top=False)
    shapes = {k: tuple(v.shape[1:3]) for k, v in finer.pyramid_outputs.items()}
    assert shapes == {"P1": (32, 32), "P2": (16, 16), "P3": (8, 8), "P4": (4, 4)}


def _hardswish(x):
    return x * np.clip(x + 3, 0, 6) / 6


_NUMPY_ACTIVATIONS = {
    "hardswish": _hardswish,
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
}


@pytest.mark.parametrize("act", sorted(_NUMPY_ACTIVATIONS))
def test_act_is_the_activation_of_every_conv_unit_and_the_last_conv(act):
    model = PPLCNet(0.25, act=act, input_shape=(32, 32, 3))
    units = ["conv1_act", "last_act"]
    units += [
        f"{stage}_{j}_{part}_act"
        for stage, blocks in NET_CONFIG.items()
        for j in range(len(blocks))
        for part in ("dw", "pw")
    ]
    z = np.linspace(-8, 8, 161, dtype="float32").reshape(1, 1, 1, -1)  # where they differ
    for name in units:
        np.testing.assert_allclose(
            _numpy(model.get_layer(name)(z)), _NUMPY_ACTIVATIONS[act](z), atol=1e-6, err_msg=name
        )


@pytest.mark.parametrize("act", ["relu", "relu6"])
def test_squeeze_excite_keeps_its_relu_and_hard_sigmoid(act):
    model = PPLCNet(0.25, act=act, input_shape=(32, 32, 3), include_top=False)
    z = np.linspace(-8, 8, 161, dtype="float32")
    for block in ("blocks6_0", "blocks6_1"):
        gate = model.get_layer(f"{block}_se_conv2").activation(z)
        np.testing.assert_allclose(_numpy(gate), np.clip(z + 3, 0, 6) / 6, atol=1e-6)
        reduce = model.get_layer(f"{block}_se_conv1").activation(z)
        np.testing.assert_allclose(_numpy(reduce), np.maximum(z, 0), atol=1e-6)


@pytest.mark.parametrize("act", ["swish", "hard_silu", "ReLU", None])
def test_an_unknown_act_is_refused(act):
    with pytest.raises(ValueError, match=r"act must be one of 'hardswish', 'relu', 'relu6'"):
        PPLCNet(0.25, act=act)


def _headless_count(scale):
    return trainable_param_count(PPLCNet(scale, include_top=False, input_shape=(32, 32, 3)))


def test_without_the_last_conv_the_classifier_takes_the_pooled_features():
    model = randomize_batch_norms(
        PPLCNet(
            0.25,
            use_last_conv=False,
            classes=7,
            classifier_activation=None,
            input_shape=(32, 32, 3),
            include_preprocessing=False,
        )
    )
    for absent in ("last_conv", "last_act", "head_drop"):
        with pytest.raises(ValueError):
            model.get_layer(absent)
    width = make_divisible(512 * 0.25)
    assert trainable_param_count(model) == _headless_count(0.25) + (width + 1) * 7
    x = np.random.default_rng(2).normal(size=(2, 32, 32, 3)).astype("float32")
    (features,) = _outputs(model, ["blocks6_1_pw_act"], x)
    kernel, bias = model.get_layer("predictions").get_weights()
    expected = features.mean(axis=(1, 2)) @ kernel + bias
    np.testing.assert_allclose(_numpy(model(x, training=False)), expected, rtol=1e-4, atol=1e-5)


def test_class_expand_is_the_width_of_the_last_conv():
    model = PPLCNet(0.25, class_expand=640, classes=10, input_shape=(32, 32, 3))
    assert model.get_layer("last_conv").filters == 640
    assert model.get_layer("predictions").kernel.shape == (640, 10)
    width = make_divisible(512 * 0.25)
    assert trainable_param_count(model) == _headless_count(0.25) + width * 640 + 641 * 10
    assert model.variant is None  # not the published head


@pytest.mark.parametrize("class_expand", [0, 1.5, "1280", None])
def test_a_bad_class_expand_is_refused(class_expand):
    with pytest.raises(ValueError, match="class_expand must be an integer ≥ 1"):
        PPLCNet(0.25, class_expand=class_expand)


def test_the_variant_is_named_only_where_the_published_weights_apply():
    def variant(**kwargs):
        with keras.StatelessScope(initialize_variables=False):
            return PPLCNet(0.5, **kwargs).variant

    assert variant(stride_list=OCR_STRIDES) == "pplcnet_x0_5"  # same tensors, other strides
    assert variant(act="relu") is None
    assert variant(use_last_conv=False) is None
    assert variant(use_last_conv=False, include_top=False) == "pplcnet_x0_5"


def test_options_are_recorded_and_rebuild_the_same_network():
    kwargs = {"stride_list": OCR_STRIDES, "use_last_conv": False, "act": "relu6"}
    model = randomize_batch_norms(PPLCNet_x0_25(classes=5, input_shape=(32, 48, 3), **kwargs))
    config = model.builder_config
    assert {k: config[k] for k in kwargs} == kwargs
    assert config["class_expand"] == 1280
    json.dumps(config)  # a .keras file stores it as JSON
    copy = BackboneModel.from_config(json.loads(json.dumps(model.get_config())))
    copy.set_weights(model.get_weights())
    rebuilt = model_families.rebuild(model)
    rebuilt.set_weights(model.get_weights())
    x = np.random.default_rng(3).uniform(0, 255, (2, 32, 48, 3)).astype("float32")
    expected = _numpy(model(x, training=False))
    for other in (copy, rebuilt):
        np.testing.assert_allclose(_numpy(other(x, training=False)), expected, rtol=1e-5)
        assert other.builder_config == config
