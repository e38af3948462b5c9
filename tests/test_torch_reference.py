"""The torch functional reference itself reproduces the official code's fixtures."""

import pytest

from tests.helpers import assert_matches_reference, load_fixture
from tests.torch_reference import vanillanet_forward

pytest.importorskip("torch")


@pytest.mark.parametrize("name", ["vanillanet_tiny5", "vanillanet_tiny8"])
def test_training_and_deploy_forms(name):
    fixture = load_fixture(name)
    strides = fixture.config["strides"]
    for tag, reference in fixture.outputs.items():
        if tag == "deploy":
            logits = vanillanet_forward(fixture.deploy_state_dict, fixture.inputs, strides)
        else:
            act_learn = float(tag.removeprefix("train_graph_lambda_"))
            logits = vanillanet_forward(
                fixture.state_dict, fixture.inputs, strides, act_learn=act_learn
            )
        assert_matches_reference(logits, reference)


@pytest.mark.parametrize(
    "name, function", [("convnext_tiny_timm", "convnext_torch"), ("lcnet_050_timm", "lcnet_torch")]
)
def test_timm_families(name, function):
    from tests import torch_reference

    fixture = load_fixture(name)
    logits = torch_reference.run_torch(
        getattr(torch_reference, function), fixture.state_dict, fixture.inputs
    )
    assert_matches_reference(logits, fixture.outputs["logits"])


def test_random_reference_state_has_the_reference_names_and_shapes():
    import keras

    import keras_minimal
    from tests.torch_reference import random_reference_state

    fixture = load_fixture("lcnet_050_timm")
    with keras.StatelessScope(initialize_variables=False):
        model = keras_minimal.create_model("pplcnet_x0_5", head_bias=True, classes=10)
    state = random_reference_state(model)
    expected = {k: v.shape for k, v in fixture.state_dict.items() if "num_batches" not in k}
    assert {k: v.shape for k, v in state.items()} == expected
