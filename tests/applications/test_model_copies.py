"""Copies of a keras_minimal model: which keep what the tools need, and the error otherwise."""

import keras
import numpy as np
import pytest

from keras_minimal.applications import VanillaNet
from keras_minimal.applications.vanillanet.variants import TEST_CONFIG
from keras_minimal.deploy import export, to_deploy
from keras_minimal.weights import load_reference
from tests.helpers import randomize_batch_norms


def _model():
    model = VanillaNet(
        TEST_CONFIG["dims"], TEST_CONFIG["strides"], input_shape=(64, 64, 3), classes=10
    )
    return randomize_batch_norms(model)


@pytest.mark.parametrize(
    "tool", [to_deploy, lambda model: load_reference(model, {})], ids=["to_deploy", "load"]
)
def test_clone_model_copy_is_refused_with_the_way_to_copy(tool):
    clone = keras.models.clone_model(_model())
    with pytest.raises(TypeError, match=r"keras\.models\.clone_model.*from_config"):
        tool(clone)


def test_fused_export_of_a_clone_model_copy_says_why(tmp_path):
    clone = keras.models.clone_model(_model())
    path = tmp_path / "clone.onnx"
    with pytest.raises(ValueError, match=r"fuse=False.*keras\.models\.clone_model"):
        export(clone, str(path), "onnx")
    assert not path.exists()


def test_from_config_copy_keeps_what_to_deploy_needs():
    model = _model()
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(to_deploy(copy)(x)),
        keras.ops.convert_to_numpy(to_deploy(model)(x)),
    )
