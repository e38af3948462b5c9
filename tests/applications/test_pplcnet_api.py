"""PP-LCNet: widths, exact stride-2 padding, pyramid, keras.applications arguments, bad input."""

import inspect

import keras
import numpy as np
import pytest

from keras_minimal.applications import (
    PPLCNet,
    PPLCNet_x0_5,
    PPLCNet_x0_35,
    PPLCNet_x1_0,
    feature_pyramid,
)
from keras_minimal.applications.channels import make_divisible
from keras_minimal.applications.pplcnet.variants import NET_CONFIG
from keras_minimal.weights import WeightsDownloadError
from tests.helpers import randomize_batch_norms
from tests.numpy_reference import conv2d


def _images(n=2, side=64):
    return np.random.default_rng(0).uniform(0, 255, (n, side, side, 3)).astype("float32")


@pytest.mark.parametrize(
    "value, expected",
    [(16 * 0.25, 8), (256 * 0.35, 88), (32 * 0.35, 16), (12, 16), (20, 24), (28, 32), (36, 40)],
)
def test_make_divisible(value, expected):
    # 11.2 → 8 would lose 29 %: +8. 89.6 → 88. 12 → 16 (ties round up). 36 → 40.
    assert make_divisible(value) == expected


def test_widths_of_x0_35_follow_make_divisible():
    with keras.StatelessScope(initialize_variables=False):
        model = PPLCNet_x0_35(include_top=False)
    assert model.get_layer("conv1_conv").filters == 8
    assert model.get_layer("blocks2_0_pw_conv").filters == 16
    assert model.get_layer("blocks5_5_pw_conv").filters == 88
    assert model.get_layer("blocks6_1_pw_conv").filters == 176
    # SE reduction: C/4 of the block's depthwise width.
    assert model.get_layer("blocks6_0_se_conv1").units == 88 // 4
    assert model.get_layer("blocks6_1_se_conv1").units == 176 // 4


def test_block_table_and_se_placement():
    model = PPLCNet(1.0, input_shape=(64, 64, 3), include_top=False)
    se = sorted(layer.name for layer in model.layers if layer.name.endswith("_se_mul"))
    assert se == ["blocks6_0_se_mul", "blocks6_1_se_mul"]
    kernels = [
        model.get_layer(f"{stage}_{j}_dw_conv").kernel_size[0]
        for stage, blocks in NET_CONFIG.items()
        for j in range(len(blocks))
    ]
    assert kernels == [3, 3, 3, 3, 3, 3, 5, 5, 5, 5, 5, 5, 5]


@pytest.mark.parametrize("side", [32, 33, 34, 35])
def test_stride_two_convolutions_pad_symmetrically_like_pytorch(side):
    """conv1 (3×3, stride 2, padding 1) against a direct numpy convolution."""
    model = PPLCNet(0.5, input_shape=(side, side, 3), include_preprocessing=False)
    x = np.random.default_rng(side).normal(size=(1, side, side, 3)).astype("float32")
    stem = keras.Model(model.input, model.get_layer("conv1_conv").output)
    kernel = keras.ops.convert_to_numpy(model.get_layer("conv1_conv").kernel)
    expected = conv2d(x, kernel, stride=2, padding=1)
    assert expected.shape[1] == (side - 1) // 2 + 1
    np.testing.assert_allclose(keras.ops.convert_to_numpy(stem(x)), expected, rtol=1e-4, atol=1e-5)


def test_pyramid_outputs_are_the_last_four_stages():
    model = PPLCNet(1.0, input_shape=(224, 224, 3), include_top=False)
    shapes = {k: tuple(v.shape) for k, v in model.pyramid_outputs.items()}
    assert shapes == {
        "P2": (None, 56, 56, 64),
        "P3": (None, 28, 28, 128),
        "P4": (None, 14, 14, 256),
        "P5": (None, 7, 7, 512),
    }
    out = feature_pyramid(model)(_images(1, 224))
    assert keras.ops.convert_to_numpy(out["P2"]).shape == (1, 56, 56, 64)


def test_constructor_signature_and_head():
    parameters = inspect.signature(PPLCNet_x1_0).parameters
    assert parameters["name"].default == "pplcnet_x1_0"
    assert parameters["classifier_activation"].default == "softmax"
    builder = inspect.signature(PPLCNet).parameters
    assert builder["dropout_rate"].default == 0.2 and builder["head_bias"].default is False
    model = PPLCNet(0.25, input_shape=(64, 64, 3), classes=7)
    assert model.get_layer("last_conv").bias is None
    assert model.get_layer("head_drop").rate == 0.2
    probs = keras.ops.convert_to_numpy(model(_images()))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    with_bias = PPLCNet(0.25, input_shape=(64, 64, 3), head_bias=True)
    assert with_bias.get_layer("last_conv").bias is not None


@pytest.mark.parametrize(
    "pooling, shape", [(None, (None, 2, 2, 256)), ("avg", (None, 256)), ("max", (None, 256))]
)
def test_include_top_false_pooling(pooling, shape):
    model = PPLCNet(0.5, input_shape=(64, 64, 3), include_top=False, pooling=pooling)
    assert model.output.shape == shape


# --- bad input: one clear error each -------------------------------------------------------


@pytest.mark.parametrize("scale", [0, -1.0, "1.0", None, True])
def test_unknown_scale(scale):
    with pytest.raises(ValueError, match=r"scale must be a positive number \(the published ones"):
        PPLCNet(scale)


@pytest.mark.parametrize(
    "weights, scales, head_bias",
    [
        ("imagenet_timm", r"\[0.5, 0.75, 1.0\]", True),
        # PaddleClas publishes SSLD-distilled weights for x0.5, x1.0 and x2.5 only.
        ("imagenet_ssld", r"\[0.5, 1.0, 2.5\]", False),
    ],
)
def test_published_weights_only_for_their_scales(weights, scales, head_bias):
    with pytest.raises(ValueError, match=rf"{weights}.*exist for the scales {scales}.*scale=0.25"):
        PPLCNet(0.25, weights=weights, head_bias=head_bias)
    with pytest.raises(ValueError, match=r"scale=0.3"):
        PPLCNet(0.3, weights="imagenet")


def test_imagenet_weights_need_the_head_bias_of_their_layout():
    with pytest.raises(ValueError, match="timm.*has a bias: build the model with head_bias=True"):
        PPLCNet_x1_0(weights="imagenet_timm")
    with pytest.raises(
        ValueError, match=r"PaddleClas.*no bias: build the model with head_bias=False.*_timm"
    ):
        PPLCNet_x1_0(weights="imagenet", head_bias=True)


@pytest.mark.parametrize(
    "weights, url",
    [
        ("imagenet_timm", "lcnet_050-f447553b.pth"),
        ("imagenet", "legendary_models/PPLCNet_x0_5_pretrained.pdparams"),
    ],
)
def test_headless_imagenet_model_needs_no_head_bias(monkeypatch, tmp_path, weights, url):
    # Without the head there is no head conv: the argument checks pass and the download starts.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("offline")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    for head_bias in (False, True):
        with pytest.raises(WeightsDownloadError, match=url):
            PPLCNet_x0_5(weights=weights, include_top=False, head_bias=head_bias)


def test_input_smaller_than_the_total_stride():
    with pytest.raises(ValueError, match="too small for pplcnet_x1_0.*at least 32 pixels"):
        PPLCNet_x1_0(input_shape=(16, 224, 3))


def test_training_step_moves_every_running_mean_as_pytorch_momentum_0_1():
    """running_mean ← 0.9 · running_mean + 0.1 · batch mean, in every BatchNorm."""
    model = randomize_batch_norms(PPLCNet(0.25, input_shape=(32, 32, 3), include_top=False))
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == 1 + 2 * sum(len(blocks) for blocks in NET_CONFIG.values())
    before = [keras.ops.convert_to_numpy(bn.moving_mean).copy() for bn in norms]
    # One training-mode pass through the whole network that also returns what each
    # BatchNorm normalised.
    inputs_of = keras.Model(model.input, [model.output, *(bn.input for bn in norms)])
    _, *batch_inputs = inputs_of(_images(4, 32), training=True)
    for bn, old, x in zip(norms, before, batch_inputs, strict=True):
        batch_mean = keras.ops.convert_to_numpy(x).mean(axis=(0, 1, 2))
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(bn.moving_mean),
            0.9 * old + 0.1 * batch_mean,
            rtol=1e-4,
            atol=1e-4,
            err_msg=bn.name,
        )


@pytest.mark.parametrize("rate", [0.0, 0.5])
def test_dropout_rate_drops_that_fraction_of_the_head_features_in_training(rate):
    model = PPLCNet(0.25, dropout_rate=rate, input_shape=(32, 32, 3))
    head = keras.Model(
        model.input, [model.get_layer("last_act").output, model.get_layer("head_drop").output]
    )
    features, dropped = (keras.ops.convert_to_numpy(t) for t in head(_images(4, 32), training=True))
    live = features != 0
    ratio = dropped[live] / features[live]
    # Inverted dropout: each feature is zeroed with probability `rate`, else scaled by 1/(1 − rate).
    np.testing.assert_allclose(ratio[ratio != 0], 1.0 / (1.0 - rate), rtol=1e-5)
    # ≥ 4000 Bernoulli draws: the dropped fraction is within ±0.05 of `rate` (> 6σ).
    assert live.sum() > 4000
    assert abs(np.mean(ratio == 0) - rate) < 0.05


def test_depthwise_kernels_start_with_paddleclas_kaiming_normal_std():
    # KaimingNormal on Paddle's (C, 1, k, k) depthwise weight: std √(2 / k²), whatever C is.
    keras.utils.set_random_seed(0)
    model = PPLCNet(1.0, weights=None)
    for name in ("blocks4_0_dw_conv", "blocks5_1_dw_conv", "blocks6_1_dw_conv"):
        kernel = keras.ops.convert_to_numpy(model.get_layer(name).kernel)
        k = kernel.shape[0]
        assert kernel.shape[2] >= 64  # C would shrink the std ≥ 8× if it entered the fan
        np.testing.assert_allclose(kernel.std(), np.sqrt(2.0 / k**2), rtol=0.1)
