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
