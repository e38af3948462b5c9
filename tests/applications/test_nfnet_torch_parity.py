"""Parity with the torch functional reference of timm's dm_nfnet (tests/torch_reference.py)
under random weights that carry the input to the logits, at an even side and an odd one
(where TF "SAME" padding is asymmetric and the shortcut's ceil-mode average pool has a
partial window)."""

import pytest

from keras_minimal.applications import NFNet
from keras_minimal.applications.nfnet.variants import TEST_CONFIG

pytest.importorskip("torch")
pytestmark = pytest.mark.multibackend

from tests.torch_reference import (  # noqa: E402
    assert_reproduces_reference,
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
    # The deploy graph too: weight standardisation folded.
    assert_reproduces_reference(model, nfnet_torch, random_images(side))
