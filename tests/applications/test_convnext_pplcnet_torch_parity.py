"""Parity with the torch functional references of timm's ConvNeXt and lcnet
(tests/torch_reference.py) under random weights that carry the input to the logits.

The shared fixtures barely depend on their input: lcnet_050_timm gives the same logits
(within 4e-7 relative) for zeros as for its input image, the ConvNeXt ones within 3–10 %.
Bugs on the input path (the stem, the orientation of early kernels, the stem LayerNorm's ε)
then pass them. Each test here first checks that its reference logits depend on the input.
"""

import pytest

from keras_minimal.applications import ConvNeXt, PPLCNet
from keras_minimal.applications.convnext.variants import TEST_CONFIG
from keras_minimal.deploy import to_deploy
from keras_minimal.weights import load_reference
from tests.helpers import assert_matches_reference

pytest.importorskip("torch")
pytestmark = pytest.mark.multibackend

from tests.torch_reference import (  # noqa: E402
    assert_depends_on_input,
    convnext_torch,
    lcnet_torch,
    lively_state,
    random_images,
)


# contrast 0.01: a nearly uniform image, whose stem features vary so little across
# channels that LayerNorm's ε (1e-6, not Keras' or PyTorch's default) shows in the logits.
@pytest.mark.parametrize("contrast", [1.0, 0.01], ids=["images", "low_contrast"])
def test_convnext_matches_the_torch_reference(contrast):
    model = ConvNeXt(
        TEST_CONFIG["depths"],
        TEST_CONFIG["dims"],
        classes=10,
        include_preprocessing=False,
        classifier_activation=None,
        input_shape=(64, 64, 3),
    )
    state = lively_state(model)
    x = random_images(64, contrast)
    reference = assert_depends_on_input(convnext_torch, state, x)
    load_reference(model, state)
    assert_matches_reference(model(x, training=False), reference)


@pytest.mark.parametrize("side", [64, 67])
def test_lcnet_matches_the_torch_reference(side):
    model = PPLCNet(
        0.5,
        head_bias=True,
        classes=10,
        include_preprocessing=False,
        classifier_activation=None,
        input_shape=(side, side, 3),
    )
    state = lively_state(model)
    x = random_images(side)
    reference = assert_depends_on_input(lcnet_torch, state, x)
    load_reference(model, state)
    assert_matches_reference(model(x, training=False), reference)
    # The same network with every BatchNorm folded (to_deploy) computes the same logits.
    assert_matches_reference(to_deploy(model)(x, training=False), reference)
