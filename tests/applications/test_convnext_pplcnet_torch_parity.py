"""Parity with the torch functional references of timm's ConvNeXt and lcnet
(tests/torch_reference.py) under random weights that carry the input to the logits.

The shared fixtures barely depend on their input: lcnet_050_timm gives the same logits
(within 4e-7 relative) for zeros as for its input image, the ConvNeXt ones within 3–10 %.
Bugs on the input path (the stem, the orientation of early kernels, the stem LayerNorm's ε)
then pass them. Each test here first checks that its reference logits depend on the input.
"""

import numpy as np
import pytest

from keras_minimal.applications import ConvNeXt, PPLCNet
from keras_minimal.applications.convnext.variants import TEST_CONFIG
from keras_minimal.deploy import to_deploy
from keras_minimal.weights import load_reference
from tests.helpers import assert_matches_reference

pytest.importorskip("torch")
pytestmark = pytest.mark.multibackend

from tests.torch_reference import (  # noqa: E402
    convnext_torch,
    lcnet_torch,
    random_reference_state,
    run_torch,
)


def lively_state(model, seed=0):
    """A timm-layout state whose activations neither fade nor explode through the network.

    Kernels N(0, 3/fan_in) (a little above He, for hard-swish), norm and BatchNorm scales
    U(0.5, 1.5), biases and running means N(0, 0.1), running variances U(0.5, 1.5),
    ConvNeXt's γ U(0.5, 1).
    """
    rng = np.random.default_rng(seed)
    state = {}
    for name, array in random_reference_state(model).items():
        shape = array.shape
        if name.endswith("running_var"):
            value = rng.uniform(0.5, 1.5, shape)
        elif name.endswith(("running_mean", ".bias")):
            value = rng.normal(0, 0.1, shape)
        elif name.endswith("gamma"):
            value = rng.uniform(0.5, 1.0, shape)
        elif len(shape) == 1:
            value = rng.uniform(0.5, 1.5, shape)
        else:
            value = rng.normal(0, np.sqrt(3.0 / np.prod(shape[1:])), shape)
        state[name] = value.astype("float32")
    return state


def _images(side, contrast=1.0):
    x = np.random.default_rng(1).normal(size=(2, side, side, 3))
    return (contrast * x).astype("float32")


def _assert_depends_on_input(function, state, x):
    reference = run_torch(function, state, x)
    blank = run_torch(function, state, np.zeros_like(x))
    assert np.max(np.abs(reference - blank)) > 0.05 * np.max(np.abs(reference))
    return reference


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
    x = _images(64, contrast)
    reference = _assert_depends_on_input(convnext_torch, state, x)
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
    x = _images(side)
    reference = _assert_depends_on_input(lcnet_torch, state, x)
    load_reference(model, state)
    assert_matches_reference(model(x, training=False), reference)
    # The same network with every BatchNorm folded (to_deploy) computes the same logits.
    assert_matches_reference(to_deploy(model)(x, training=False), reference)
