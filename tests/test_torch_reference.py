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
    "name, function",
    [
        ("convnext_tiny_timm", "convnext_torch"),
        ("lcnet_050_timm", "lcnet_torch"),
        ("nfnet_tiny_dm", "nfnet_torch"),
    ],
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


def test_trainable_vanillanet_loads_official_checkpoint_and_reproduces_it():
    import torch

    from tests.torch_reference import random_training_state_dict
    from tests.torch_vanillanet import VanillaNetTorch

    fixture = load_fixture("vanillanet_tiny5")
    config = fixture.config
    model = VanillaNetTorch(
        random_training_state_dict(config["dims"], config["strides"], config["num_classes"]),
        config["strides"],
    )
    official = {k: torch.as_tensor(v) for k, v in fixture.state_dict.items()}
    missing, unexpected = model.load_state_dict(official, strict=False)
    assert unexpected == []
    assert missing and all(k.endswith("num_batches_tracked") for k in missing)
    model.eval()
    inputs = torch.as_tensor(fixture.inputs).permute(0, 3, 1, 2)
    for tag, reference in fixture.outputs.items():
        if tag == "deploy":
            continue
        model.act_learn = float(tag.removeprefix("train_graph_lambda_"))
        with torch.no_grad():
            assert_matches_reference(model(inputs).numpy(), reference)


def _shift_cancelled_by_batchnorm(name):
    """A per-channel shift that a training-mode BatchNorm further on removes, so its gradient is
    zero up to rounding: a conv bias right before a BN, and a series activation's BN bias (it
    feeds the next conv + BN)."""
    conv_bias_before_batchnorm = ("stem1.0.bias", "stem2.0.bias", "conv1.0.bias", "conv2.0.bias")
    return name.endswith((*conv_bias_before_batchnorm, "cls1.2.bias", ".bn.bias"))


def test_trainable_vanillanet_training_step_updates_every_parameter():
    import torch

    from tests.torch_reference import random_training_state_dict
    from tests.torch_vanillanet import VanillaNetTorch

    torch.manual_seed(0)
    dims, strides = [8, 16, 24], [2, 1]
    model = VanillaNetTorch(random_training_state_dict(dims, strides, 5), strides, act_learn=0.3)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    images = torch.rand(4, 3, 32, 32)
    loss = torch.nn.functional.cross_entropy(model.train()(images), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    gradients = {name: p.grad.detach().clone() for name, p in model.named_parameters()}
    optimizer.step()
    after = model.state_dict()
    assert torch.isfinite(loss)
    largest = max(g.abs().max() for g in gradients.values())
    cancelled = {name for name in gradients if _shift_cancelled_by_batchnorm(name)}
    # Three in the stem and in each stage (two conv biases, the series activation's BN bias),
    # and the head's cls1 conv bias.
    assert len(cancelled) == 3 + 3 * len(strides) + 1
    for name, gradient in gradients.items():
        if name in cancelled:
            assert gradient.abs().max() <= 1e-5 * largest, name
        else:
            assert gradient.abs().max() > 1e-3 * largest, name
            assert not torch.equal(before[name], after[name]), name
    # BatchNorm in training mode uses batch statistics and updates the running ones.
    assert not torch.equal(before["stem1.1.running_mean"], after["stem1.1.running_mean"])
