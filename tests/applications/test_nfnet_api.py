"""NFNet's architecture details, variants, options and errors (TensorFlow; symbolic builds)."""

import math
import re
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_minimal
from keras_minimal import model_families
from keras_minimal.applications import NFNet, NFNetF0, NFNetF4, NFNetF7
from keras_minimal.applications.nfnet.model import NONLINEARITY_GAINS
from keras_minimal.applications.nfnet.variants import CHANNELS, TEST_CONFIG, VARIANTS
from keras_minimal.layers import WSConv2D
from keras_minimal.weights import load_reference
from tests.helpers import load_fixture, reference_param_counts, trainable_param_count
from tests.nfnet_param_count import nfnet_param_count
from tests.numpy_reference import scaled_standardized_kernel

ALPHA = 0.2
GELU_GAIN = 1.7015043497085571


def _symbolic(constructor, **kwargs):
    with keras.StatelessScope(initialize_variables=False):
        return constructor(**kwargs)


def _tiny(**kwargs):
    kwargs.setdefault("classes", 10)
    return NFNet(**TEST_CONFIG, **kwargs)


def test_every_variant_is_registered_with_its_published_settings():
    assert [v.constructor_name for v in VARIANTS.values()] == [f"NFNetF{i}" for i in range(8)]
    assert keras_minimal.list_models("nfnet") == [f"nfnet_f{i}" for i in range(8)]
    expected = {  # depths, train/test resolution, dropout (paper table 2)
        "nfnet_f0": ((1, 2, 6, 3), 192, 256, 0.2),
        "nfnet_f1": ((2, 4, 12, 6), 224, 320, 0.3),
        "nfnet_f2": ((3, 6, 18, 9), 256, 352, 0.4),
        "nfnet_f3": ((4, 8, 24, 12), 320, 416, 0.4),
        "nfnet_f4": ((5, 10, 30, 15), 384, 512, 0.5),
        "nfnet_f5": ((6, 12, 36, 18), 416, 544, 0.5),
        "nfnet_f6": ((7, 14, 42, 21), 448, 576, 0.5),
        "nfnet_f7": ((8, 16, 48, 24), 480, 608, 0.5),
    }
    for name, (depths, train, test, drop) in expected.items():
        variant = VARIANTS[name]
        assert (variant.depths, variant.train_image_size, variant.test_image_size) == (
            depths,
            train,
            test,
        )
        assert variant.drop_rate == drop
    assert CHANNELS == (256, 512, 1536, 1536)


def test_parameter_count_formula_matches_every_reference_and_derives_f7():
    counts = reference_param_counts()["nfnet"]
    for name, variant in VARIANTS.items():
        if name in counts:
            assert nfnet_param_count(variant.depths) == counts[name], name
    assert "nfnet_f7" not in counts  # no reference model: F7 is derived
    f7 = nfnet_param_count(VARIANTS["nfnet_f7"].depths)
    assert trainable_param_count(_symbolic(NFNetF7)) == f7
    # Depths grow linearly from F0 to F7, so do the counts; the README states the number.
    assert f7 - counts["nfnet_f6"] == counts["nfnet_f6"] - counts["nfnet_f5"]
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert f"{f7:,}" in readme


def test_stem_is_four_convolutions_without_activation_after_the_last():
    model = _symbolic(NFNetF0)
    widths = [model.get_layer(f"stem_conv{i}").filters for i in range(1, 5)]
    strides = [model.get_layer(f"stem_conv{i}").strides for i in range(1, 5)]
    assert widths == [16, 32, 64, 128]
    assert strides == [(2, 2), (1, 1), (1, 1), (2, 2)]
    names = [layer.name for layer in model.layers]
    assert names[names.index("stem_conv4") + 1] == "stages_0_0_act1"
    assert all(model.get_layer(n).padding == "same" for n in names if "conv" in n)


def test_blocks_follow_the_paper():
    model = _symbolic(NFNetF0)
    get = model.get_layer
    for stage, (depth, width) in enumerate(zip((1, 2, 6, 3), CHANNELS, strict=True)):
        for index in range(depth):
            prefix = f"stages_{stage}_{index}"
            assert get(f"{prefix}_conv1").filters == width // 2
            for conv in ("conv2", "conv2b"):
                assert get(f"{prefix}_{conv}").groups == width // 2 // 128
            expected_stride = 2 if stage and not index else 1
            assert get(f"{prefix}_conv2").strides == (expected_stride,) * 2
            assert get(f"{prefix}_se_fc1").units == width // 2
            assert get(f"{prefix}_skip_gain").scale == pytest.approx(2 * ALPHA)
            names = {layer.name for layer in model.layers}
            assert (f"{prefix}_downsample_conv" in names) == (index == 0)
            assert (f"{prefix}_downsample_pool" in names) == (index == 0 and stage > 0)
    assert get("final_conv").filters == 3072
    assert get("head_drop").rate == 0.2
    assert get("predictions").units == 1000


@pytest.mark.parametrize("width, hidden", [(40, 24), (120, 64), (16, 8), (256, 128)])
def test_squeeze_excite_width_rounds_like_timm_semodule(width, hidden):
    # timm: make_divisible(C · 0.5, 8, round_limit=0); DeepMind's int(C · 0.5) gives 20, 60.
    model = NFNet([1], [width], group_size=width // 2, stem_chs=16, input_shape=(32, 32, 3))
    assert model.get_layer("stages_0_0_se_fc1").units == hidden


def test_beta_is_one_over_the_expected_std_reset_after_each_transition():
    depths = (1, 2, 6, 3)
    model = _symbolic(NFNetF0)
    for stage, depth in enumerate(depths):
        for index in range(depth):
            if index:
                variance = 1 + ALPHA**2 * index
            else:
                variance = 1 + ALPHA**2 * depths[stage - 1] if stage else 1.0
            scale = model.get_layer(f"stages_{stage}_{index}_act1").scale
            assert scale == pytest.approx(GELU_GAIN / math.sqrt(variance), rel=1e-12)
    assert model.get_layer("stages_0_0_act2").scale == GELU_GAIN
    assert NONLINEARITY_GAINS["relu"] == 1.7139588594436646


def test_skip_gains_start_at_zero_so_every_block_starts_as_its_shortcut():
    model = _tiny(include_preprocessing=False, input_shape=(32, 32, 3))
    gains = [v for v in model.trainable_weights if v.name == "skip_gain"]
    assert len(gains) == sum(TEST_CONFIG["depths"])
    np.testing.assert_array_equal([keras.ops.convert_to_numpy(g) for g in gains], 0.0)
    # stages_2_1 is not a transition block: its output is its input at initialisation.
    get = model.get_layer
    probe = keras.Model(model.input, [get("stages_2_0_add").output, get("stages_2_1_add").output])
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    block_input, block_output = probe(x)
    assert np.abs(keras.ops.convert_to_numpy(block_input)).max() > 0
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(block_output), keras.ops.convert_to_numpy(block_input)
    )


def test_deepmind_weight_standardization_reaches_every_convolution():
    model = _tiny(weight_standardization="deepmind", input_shape=(32, 32, 3))
    convs = [layer for layer in model.layers if isinstance(layer, WSConv2D)]
    # The stem's 4, 4 per block, the 3 transition shortcuts and the final convolution.
    assert len(convs) == 4 + 4 * sum(TEST_CONFIG["depths"]) + 3 + 1
    rng = np.random.default_rng(0)
    for layer in convs:
        # Kernels of variance 1e-8, where the two forms differ by a factor of 1.6 to 3.1.
        kernel = rng.normal(0.0, 1e-4, layer.kernel.shape).astype("float32")
        gain = rng.uniform(0.5, 2.0, layer.gain.shape).astype("float32")
        layer.kernel.assign(kernel)
        layer.gain.assign(gain)
        expected = scaled_standardized_kernel(kernel, gain, 1e-4, "deepmind")
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(layer.standardized_kernel()),
            expected,
            rtol=1e-4,
            atol=1e-6,
            err_msg=layer.name,
        )


def test_stochastic_depth_ramps_over_blocks_and_is_off_by_default():
    model = _symbolic(NFNetF0)
    assert not [layer for layer in model.layers if layer.name.endswith("drop_path")]
    model = _symbolic(NFNetF0, drop_path_rate=0.25)
    blocks = [f"stages_{s}_{b}" for s, d in enumerate((1, 2, 6, 3)) for b in range(d)]
    names = {layer.name for layer in model.layers}
    assert f"{blocks[0]}_drop_path" not in names  # rate 0 for the first block
    for i, block in enumerate(blocks[1:], start=1):
        layer = model.get_layer(f"{block}_drop_path")
        assert layer.rate == pytest.approx(0.25 * i / len(blocks))
        assert tuple(layer.noise_shape) == (None, 1, 1, 1)


def test_dropout_defaults_to_the_variants_value_and_can_be_overridden():
    assert _symbolic(NFNetF4).get_layer("head_drop").rate == 0.5
    assert _symbolic(NFNetF0, drop_rate=0.0).get_layer("head_drop").rate == 0.0
    assert _symbolic(_tiny).get_layer("head_drop").rate == 0.0
    assert _symbolic(_tiny, drop_rate=0.3).builder_config["drop_rate"] == 0.3


def test_preprocessing_is_timm_dm_nfnet_imagenet_normalisation():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (2, 40, 40, 3)).astype("float32")
    raw = _tiny(include_preprocessing=True)
    normalised = _tiny(include_preprocessing=False)
    normalised.set_weights(raw.get_weights())
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    expected = normalised((images / 255.0 - mean) / std, training=False)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(raw(images, training=False)),
        keras.ops.convert_to_numpy(expected),
        rtol=1e-4,
        atol=1e-6,
    )


def test_any_input_size_and_a_headless_feature_extractor():
    model = _tiny(include_top=False, pooling="max", include_preprocessing=False)
    assert model.output.shape == (None, 192)
    for side in (33, 64):
        out = model(np.ones((1, side, side, 3), "float32"))
        assert out.shape == (1, 192)


def test_imagenet_weights_resolve_timm_dm_releases_and_refuse_f7():
    url = model_families.registered_families()["nfnet"].weights_urls["imagenet"]("nfnet_f0")
    assert url.endswith("v0.1-dnf-weights/dm_nfnet_f0-604f9c3a.pth")
    with pytest.raises(ValueError, match=r'weights="imagenet" do not exist for nfnet_f7'):
        NFNetF7(weights="imagenet")


def test_variant_recognised_only_for_the_published_configuration():
    assert _symbolic(NFNetF0).variant == "nfnet_f0"
    assert _symbolic(NFNetF0, activation="relu").variant is None
    assert _symbolic(_tiny).variant is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"group_size": 48},
            r"group_size=48 does not divide the grouped convolutions' width of the stage of "
            r"width 256: 256 × bottle_ratio 0.5 = 128 channels.*Received: group_size=48",
        ),
        (  # divides every stage width, but not the grouped convolutions' (width × 0.5)
            {"group_size": 256},
            r"group_size=256 does not divide the grouped convolutions' width of the stage of "
            r"width 256: 256 × bottle_ratio 0.5 = 128 channels.*Received: group_size=256",
        ),
        ({"activation": "swish2"}, r"activation must be one of .*Received: activation='swish2'"),
        ({"stem_chs": 20}, r"stem_chs must be a multiple of 8.*Received: stem_chs=20"),
        ({"drop_path_rate": 1.0}, r"drop_path_rate must lie in \[0, 1\)"),
        ({"weight_standardization": "bn"}, r"weight_standardization must be one of"),
    ],
)
def test_bad_architecture_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NFNet((1, 2, 6, 3), CHANNELS, **kwargs)


def test_mismatched_depths_and_channels():
    with pytest.raises(ValueError, match=r"one width per stage. Received: depths=\[1, 2\]"):
        NFNet((1, 2), CHANNELS)


# ---- reference checkpoints: errors ---------------------------------------------------


@pytest.fixture(scope="module")
def fixture():
    return load_fixture("nfnet_tiny_dm")


def _fixture_model(fixture, **kwargs):
    kwargs.setdefault("input_shape", (64, 64, 3))
    return _tiny(include_preprocessing=False, **kwargs)


def test_timm_non_dm_nfnet_checkpoint_is_refused_with_the_reason(fixture):
    # timm's nfnet_f* (non-dm) state dicts have the same module names but no SkipInit gains.
    non_dm = {k: v for k, v in fixture.state_dict.items() if not k.endswith("skipinit_gain")}
    model = _fixture_model(fixture)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(
        ValueError,
        match=r"timm \(non-dm\) NormFreeNet.*symmetric padding.*dm_nfnet_\*.*Nothing was loaded",
    ):
        load_reference(model, non_dm)
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
    nf_resnet = {"stem.conv.weight": np.zeros((64, 3, 7, 7)), **non_dm}
    with pytest.raises(ValueError, match=r"single-convolution stem \(NF-ResNet / NF-RegNet\)"):
        load_reference(model, nf_resnet)


@pytest.mark.parametrize("other", ["vanillanet_tiny5", "convnext_tiny_timm", "convnext_tiny_fb"])
def test_other_families_checkpoints_are_not_called_norm_free_nets(fixture, other):
    with pytest.raises(ValueError) as error:
        load_reference(_fixture_model(fixture), load_fixture(other).state_dict)
    message = str(error.value)
    assert "NormFreeNet" not in message
    assert "Missing from the checkpoint" in message and "final_conv.weight" in message
    assert message.endswith("Nothing was loaded.")


def test_checkpoint_of_other_depths_names_the_variant(fixture):
    state = dict(fixture.state_dict)
    state = {k: v for k, v in state.items() if not k.startswith("stages.2.1.")}
    with pytest.raises(
        ValueError,
        match=r"Missing from the checkpoint \(17\).*depths=\[1, 1, 1, 1\]; this model has "
        r"depths=\[1, 1, 2, 1\]",
    ):
        load_reference(_fixture_model(fixture), state)


def test_deploy_graph_refuses_reference_checkpoints(fixture):
    with pytest.raises(ValueError, match=r"deploy graph.*deploy=False.*to_deploy"):
        load_reference(_fixture_model(fixture, deploy=True), fixture.state_dict)


def test_headless_model_skips_the_classifier(fixture):
    model = load_reference(_fixture_model(fixture, include_top=False), fixture.state_dict)
    full = load_reference(_fixture_model(fixture), fixture.state_dict)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model.get_layer("final_conv").kernel),
        keras.ops.convert_to_numpy(full.get_layer("final_conv").kernel),
    )


def test_unknown_haiku_names_are_reported_as_unexpected(fixture):
    from tests.applications.test_nfnet_parity import _haiku_checkpoint

    haiku = _haiku_checkpoint(fixture.state_dict, TEST_CONFIG["depths"])
    haiku["NFNet/~/nf_block_9/~/conv0/w"] = np.zeros((1, 1, 8, 8))
    with pytest.raises(ValueError, match=re.escape("Unexpected in the checkpoint (1): NFNet/~/")):
        load_reference(_fixture_model(fixture), haiku)
