"""Parity with the torch functional reference of timm's dm_nfnet (tests/torch_reference.py)
under random weights that carry the input to the logits, at an even side and an odd one
(where TF "SAME" padding is asymmetric and the shortcut's ceil-mode average pool has a
partial window)."""

import pytest

from keras_minimal.applications import NFNet
from keras_minimal.applications.nfnet.variants import TEST_CONFIG
from keras_minimal.deploy import to_deploy
from keras_minimal.weights import load_reference
from tests.helpers import assert_matches_reference

pytest.importorskip("torch")
pytestmark = pytest.mark.multibackend

from tests.torch_reference import (  # noqa: E402
    assert_depends_on_input,
    lively_state,
    nfnet_torch,
    random_images,
)


@pytest.mark.parametrize("side", [64, 67])
def test_nfnet_matches_the_torch_reference(side):
    model = NFNet(
        **TEST_CONFIG,
        classes=10,
        include_preprocessing=False,
        classifier_activation=None,
        input_shape=(side, side, 3),
    )
    state = lively_state(model)
    x = random_images(side)
    reference = assert_depends_on_input(nfnet_torch, state, x)
    load_reference(model, state)
    assert_matches_reference(model(x, training=False), reference)
    # The deploy graph (weight standardisation folded) computes the same logits.
    assert_matches_reference(to_deploy(model)(x, training=False), reference)
