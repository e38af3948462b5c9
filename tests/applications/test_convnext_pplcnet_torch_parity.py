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

pytest.importorskip("torch")
pytestmark = pytest.mark.multibackend

from tests.torch_reference import (  # noqa: E402
    assert_reproduces_reference,
    convnext_torch,
    lcnet_torch,
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
    assert_reproduces_reference(model, convnext_torch, random_images(64, contrast), deploy=False)


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
    # The deploy graph too: every BatchNorm folded.
    assert_reproduces_reference(model, lcnet_torch, random_images(side))
