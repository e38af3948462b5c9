"""Parity with PaddleClas' own pp_lcnet.py run under paddlepaddle (fixtures in tests/data:
the .pdparams that paddle.save wrote and the .npz with its input and eval-mode logits).

The inputs are already normalised (N(0, 1), see each fixture's meta): the models are built
with include_preprocessing=False.
"""

import pickle

import keras
import numpy as np
import pytest

from keras_minimal.applications import PPLCNet
from keras_minimal.deploy import to_deploy
from keras_minimal.weights import load_reference
from tests.helpers import DATA, assert_matches_reference, load_fixture, trainable_param_count

pytestmark = pytest.mark.multibackend

CASES = ["pplcnet_paddle_x0_25", "pplcnet_paddle_x0_5_relu_nolast"]
# PaddleClas' PPLCNet arguments whose names differ from ours.
_RENAMED = {"class_num": "classes", "dropout_prob": "dropout_rate"}


def pplcnet_for(fixture, **kwargs):
    """Our PPLCNet built with the PaddleClas constructor arguments recorded in the fixture."""
    paddle_kwargs = fixture.meta["constructor"]["kwargs"]
    ours = {_RENAMED.get(name, name): value for name, value in paddle_kwargs.items()}
    ours.update(kwargs)
    return PPLCNet(
        **ours,
        include_preprocessing=False,
        classifier_activation=None,
        input_shape=fixture.inputs.shape[1:],
    )


def _paddle_state(name):
    """The fixture's tensors as paddle.load gives them, read independently of our reader."""
    with open(DATA / f"{name}.pdparams", "rb") as file:
        state = pickle.load(file)  # trusted: our fixture
    del state["StructuredToParameterName@@"]  # paddle.save's name table, not a tensor
    return state


def _logits(model, fixture):
    return model(fixture.inputs, training=False)


@pytest.mark.parametrize("name", CASES)
def test_pdparams_as_weights_argument_gives_paddles_logits(name):
    fixture = load_fixture(name)
    model = pplcnet_for(fixture, weights=str(DATA / f"{name}.pdparams"))
    assert_matches_reference(_logits(model, fixture), fixture.outputs["logits"])
    assert trainable_param_count(model) == fixture.meta["n_parameters"]


@pytest.mark.parametrize("name", CASES)
def test_load_reference_and_the_deploy_graph(name):
    fixture = load_fixture(name)
    model = load_reference(pplcnet_for(fixture), DATA / f"{name}.pdparams")
    assert_matches_reference(_logits(model, fixture), fixture.outputs["logits"])
    assert_matches_reference(_logits(to_deploy(model), fixture), fixture.outputs["logits"])
    fused = pplcnet_for(fixture, deploy=True, weights=str(DATA / f"{name}.pdparams"))
    assert_matches_reference(_logits(fused, fixture), fixture.outputs["logits"])


def test_paddle_downscale_in_infer_dropout_is_folded_into_the_classifier():
    # Paddle's head Dropout(p=0.2, mode="downscale_in_infer") multiplies by 0.8 at inference,
    # before fc: fc.weight is loaded × 0.8, fc.bias as it is.
    fixture = load_fixture("pplcnet_paddle_x0_25")
    assert fixture.meta["constructor"]["kwargs"]["dropout_prob"] == 0.2
    state = _paddle_state("pplcnet_paddle_x0_25")
    model = load_reference(pplcnet_for(fixture), DATA / "pplcnet_paddle_x0_25.pdparams")
    kernel, bias = model.get_layer("predictions").get_weights()
    np.testing.assert_allclose(kernel, state["fc.weight"] * np.float32(0.8), rtol=1e-7)
    np.testing.assert_array_equal(bias, state["fc.bias"])
    # The model's dropout_rate is PaddleClas' dropout_prob: another rate, another factor.
    other = load_reference(pplcnet_for(fixture, dropout_rate=0.5), state)
    np.testing.assert_allclose(
        other.get_layer("predictions").get_weights()[0], state["fc.weight"] * 0.5, rtol=1e-7
    )


def test_without_the_last_conv_there_is_no_dropout_to_fold():
    # use_last_conv=False: PaddleClas creates no Dropout; fc takes the pooled features.
    fixture = load_fixture("pplcnet_paddle_x0_5_relu_nolast")
    state = _paddle_state("pplcnet_paddle_x0_5_relu_nolast")
    model = load_reference(pplcnet_for(fixture, dropout_rate=0.2), state)
    kernel, _ = model.get_layer("predictions").get_weights()
    np.testing.assert_array_equal(kernel, state["fc.weight"])
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in model.layers)
    assert_matches_reference(_logits(model, fixture), fixture.outputs["logits"])
