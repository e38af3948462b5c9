"""One suite over every registered model: exact parameter counts and the common arguments.

Models are built inside keras.StatelessScope(initialize_variables=False): the graph
and variable shapes are real, but no weights are allocated, so all variants are cheap.
"""

import keras
import pytest

import keras_minimal
from keras_minimal.applications.nfnet.variants import VARIANTS as NFNET_VARIANTS
from tests.helpers import reference_param_counts, trainable_param_count
from tests.nfnet_param_count import nfnet_param_count

COUNTS = reference_param_counts()


def expected_counts(name):
    """{build kwargs as a tuple: trainable parameter count} from the reference counts."""
    if name.startswith("vanillanet"):
        row = COUNTS["vanillanet"][name]
        return {(): row["train_graph_params"], (("deploy", True),): row["deploy_params"]}
    if name.startswith("convnext"):
        return {(): COUNTS["convnext"][name], (("deploy", True),): COUNTS["convnext"][name]}
    if name.startswith("pplcnet"):
        row = COUNTS["pplcnet"][name]
        # PaddleClas' head conv has no bias (the default); timm's has one.
        return {(): row["paddle_layout_params"], (("head_bias", True),): row["timm_layout_params"]}
    if name.startswith("nfnet"):
        # F7 has no reference model: its count is derived (tests/nfnet_param_count.py,
        # checked against F0–F6 in tests/applications/test_nfnet_api.py).
        count = COUNTS["nfnet"].get(name) or nfnet_param_count(NFNET_VARIANTS[name].depths)
        return {(): count}
    raise AssertionError(f"No reference count for {name}")


def build_symbolically(name, **kwargs):
    with keras.StatelessScope(initialize_variables=False):
        return keras_minimal.create_model(name, **kwargs)


@pytest.mark.parametrize("name", keras_minimal.list_models())
def test_exact_trainable_parameter_counts(name):
    for kwargs, count in expected_counts(name).items():
        model = build_symbolically(name, **dict(kwargs))
        assert trainable_param_count(model) == count, (name, kwargs)


@pytest.mark.parametrize("name", keras_minimal.list_models())
def test_headless_feature_extractor(name):
    model = build_symbolically(name, include_top=False, pooling="avg")
    full = build_symbolically(name)
    features = full.get_layer("head_pool").output.shape[-1]
    assert model.output.shape == (None, features)
    assert model.variant == name


def test_every_design_constructor_is_registered():
    expected = {
        "VanillaNet5",
        "VanillaNet6",
        "VanillaNet7",
        "VanillaNet8",
        "VanillaNet9",
        "VanillaNet10",
        "VanillaNet11",
        "VanillaNet12",
        "VanillaNet13",
        "VanillaNet13_x1_5",
        "VanillaNet13_x1_5_ada_pool",
    }
    constructors = {n for n in dir(keras_minimal.applications) if n.startswith("VanillaNet")}
    assert expected <= constructors
    assert len([n for n in keras_minimal.list_models() if n.startswith("vanillanet_")]) == 11


def test_create_model_rejects_unknown_names():
    with pytest.raises(ValueError, match="Unknown model name 'vanillanet_99'.*vanillanet_5"):
        keras_minimal.create_model("vanillanet_99")


def test_list_models_takes_timm_wildcards_or_a_substring():
    assert keras_minimal.list_models("nfnet_f[0-2]") == ["nfnet_f0", "nfnet_f1", "nfnet_f2"]
    assert keras_minimal.list_models("convnext*") == keras_minimal.list_models("convnext")
    assert keras_minimal.list_models("*_ada_pool") == ["vanillanet_13_x1_5_ada_pool"]
    assert keras_minimal.list_models("resnet*") == []


def test_list_models_is_in_natural_order():
    assert keras_minimal.list_models("vanillanet_1") == [
        "vanillanet_10",
        "vanillanet_11",
        "vanillanet_12",
        "vanillanet_13",
        "vanillanet_13_x1_5",
        "vanillanet_13_x1_5_ada_pool",
    ]
    names = keras_minimal.list_models("vanillanet")
    assert names[:6] == [f"vanillanet_{depth}" for depth in range(5, 11)]


def test_convnext_and_pplcnet_constructors_are_registered():
    convnext = {"ConvNeXtTiny", "ConvNeXtSmall", "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtXLarge"}
    scales = ("0_25", "0_35", "0_5", "0_75", "1_0", "1_5", "2_0", "2_5")
    pplcnet = {f"PPLCNet_x{s}" for s in scales}
    assert convnext | pplcnet <= set(dir(keras_minimal.applications))
    names = keras_minimal.list_models()
    assert [n for n in names if n.startswith("convnext_")] == [
        "convnext_base",
        "convnext_large",
        "convnext_small",
        "convnext_tiny",
        "convnext_xlarge",
    ]
    assert sorted(n for n in names if n.startswith("pplcnet_")) == sorted(
        f"pplcnet_x{s}" for s in scales
    )
