"""Parity with the official VanillaNet code (fixtures made with huawei-noah/VanillaNet)."""

import keras
import numpy as np
import pytest

from keras_minimal.applications import VanillaNet
from keras_minimal.deploy import to_deploy
from keras_minimal.weights import load_reference
from tests.helpers import assert_matches_reference, load_fixture, vanillanet_for
from tests.torch_reference import random_training_state_dict, vanillanet_forward

pytestmark = pytest.mark.multibackend

FIXTURES = ["vanillanet_tiny5", "vanillanet_tiny8"]


@pytest.mark.parametrize("name", FIXTURES)
def test_training_graph_at_every_reference_lambda(name):
    fixture = load_fixture(name)
    model = load_reference(vanillanet_for(fixture), fixture.state_dict)
    tags = [t for t in fixture.outputs if t.startswith("train_graph_lambda_")]
    assert tags
    for tag in tags:
        model.set_act_learn(float(tag.removeprefix("train_graph_lambda_")))
        assert_matches_reference(model(fixture.inputs, training=False), fixture.outputs[tag])


@pytest.mark.parametrize("name", FIXTURES)
def test_to_deploy_of_the_converted_model_reproduces_reference_deploy(name):
    fixture = load_fixture(name)
    model = load_reference(vanillanet_for(fixture), fixture.state_dict)
    fused = to_deploy(model)
    assert_matches_reference(fused(fixture.inputs, training=False), fixture.outputs["deploy"])


@pytest.mark.parametrize("name", FIXTURES)
def test_reference_deploy_checkpoint_in_a_deploy_model(name):
    fixture = load_fixture(name)
    model = load_reference(vanillanet_for(fixture, deploy=True), fixture.deploy_state_dict)
    assert_matches_reference(model(fixture.inputs, training=False), fixture.outputs["deploy"])


@pytest.mark.parametrize("act_learn", [0.0, 1.0])
def test_ada_pool_model_against_torch_functional_reference(act_learn):
    pytest.importorskip("torch")
    dims, strides, ada_pool = (8, 8, 16, 16), (1, 2, 2), (0, 7, 3)
    state = random_training_state_dict(dims, strides, classes=5)
    x = np.random.default_rng(3).normal(size=(2, 40, 40, 3)).astype("float32")
    model = VanillaNet(
        dims,
        strides,
        ada_pool=ada_pool,
        classes=5,
        input_shape=(40, 40, 3),
        include_preprocessing=False,
        classifier_activation=None,
    )
    load_reference(model, state)
    model.set_act_learn(act_learn)
    reference = vanillanet_forward(state, x, strides, ada_pool=ada_pool, act_learn=act_learn)
    assert_matches_reference(model(x, training=False), reference)
    if act_learn == 1.0:
        assert_matches_reference(to_deploy(model)(x, training=False), reference)


# The fixtures' logits hardly depend on their input (the official random init fades the
# signal within a few layers), so they cannot see the stem or the pooling: these tests use
# the torch functional reference with weights that carry the input through.
MAXPOOL_CONFIG = {"dims": (8, 16, 16, 32), "strides": (2, 1, 2)}


def _functional_model(**kwargs):
    return VanillaNet(
        MAXPOOL_CONFIG["dims"],
        MAXPOOL_CONFIG["strides"],
        classes=5,
        input_shape=(32, 32, 3),
        include_preprocessing=False,
        classifier_activation=None,
        **kwargs,
    )


def _functional_input():
    return np.random.default_rng(3).normal(size=(2, 32, 32, 3)).astype("float32")


@pytest.mark.parametrize("act_learn", [0.0, 1.0])
def test_max_pool_model_against_torch_functional_reference(act_learn):
    pytest.importorskip("torch")
    state = random_training_state_dict(MAXPOOL_CONFIG["dims"], MAXPOOL_CONFIG["strides"], 5)
    x = _functional_input()
    model = load_reference(_functional_model(), state)
    model.set_act_learn(act_learn)
    reference = vanillanet_forward(state, x, MAXPOOL_CONFIG["strides"], act_learn=act_learn)
    assert_matches_reference(model(x, training=False), reference)
    if act_learn == 1.0:
        assert_matches_reference(to_deploy(model)(x, training=False), reference)


def test_batch_norm_epsilon_is_1e_6_in_every_layer_and_in_the_fused_model():
    """Running variances of the order of ε make ε visible; γ ∝ √var keeps the scale at 1."""
    pytest.importorskip("torch")
    state = random_training_state_dict(MAXPOOL_CONFIG["dims"], MAXPOOL_CONFIG["strides"], 5)
    for name in [n for n in state if n.endswith(".running_var")]:
        prefix = name.removesuffix(".running_var")
        state[name] = state[name] * np.float32(1e-6)
        state[f"{prefix}.weight"] = state[f"{prefix}.weight"] * np.sqrt(state[name])
    x = _functional_input()
    model = load_reference(_functional_model(), state)
    reference = vanillanet_forward(state, x, MAXPOOL_CONFIG["strides"])  # BN eps = 1e-6
    assert_matches_reference(model(x, training=False), reference)
    assert_matches_reference(to_deploy(model)(x, training=False), reference)


def test_training_step_moves_running_means_as_pytorch_momentum_0_1():
    """Running means only: PyTorch updates running_var with the unbiased batch variance."""
    torch = pytest.importorskip("torch")
    from keras_minimal.applications.vanillanet.checkpoint import reference_layout
    from tests.torch_reference import vanillanet_torch

    state = random_training_state_dict(MAXPOOL_CONFIG["dims"], MAXPOOL_CONFIG["strides"], 5)
    x = _functional_input()
    model = load_reference(_functional_model(), state)
    model.set_act_learn(0.5)
    model(x, training=True)
    sd = {k: torch.tensor(np.array(v)) for k, v in state.items()}
    vanillanet_torch(
        sd,
        torch.tensor(x).permute(0, 3, 1, 2),
        MAXPOOL_CONFIG["strides"],
        act_learn=0.5,
        training=True,
    )
    targets = reference_layout(model).targets
    names = [n for n in targets if n.endswith(".running_mean")]
    assert len(names) == 3 * len(MAXPOOL_CONFIG["strides"]) + 4
    for name in names:
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(targets[name].variable),
            sd[name].numpy(),
            rtol=1e-4,
            atol=1e-5,
            err_msg=name,
        )
