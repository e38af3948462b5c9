"""with_banded_depthwise: the TFLite form of a model, same weights and outputs."""

import keras
import numpy as np
import pytest

from keras_minimal.applications import PPLCNet, VanillaNet
from keras_minimal.deploy import to_deploy
from keras_minimal.deploy.xnnpack import with_banded_depthwise
from keras_minimal.layers import BandedDepthwiseConv2D, SeriesActivation
from keras_minimal.weights import load_reference
from tests.helpers import assert_matches_reference, load_fixture

pytestmark = pytest.mark.multibackend

FIXTURE = load_fixture("vanillanet_tiny5")


def _official_deploy_model():
    config = FIXTURE.config
    model = VanillaNet(
        config["dims"],
        config["strides"],
        classes=config["num_classes"],
        include_preprocessing=False,
        classifier_activation=None,
        input_shape=(64, 64, 3),
    )
    return to_deploy(load_reference(model, FIXTURE.state_dict))


def _series_depthwise_types(model):
    return [
        type(layer.depthwise).__name__
        for layer in model.layers
        if isinstance(layer, SeriesActivation)
    ]


def test_series_activations_run_in_bands_with_the_official_outputs():
    fused = _official_deploy_model()
    banded = with_banded_depthwise(fused)
    assert _series_depthwise_types(banded) == ["BandedDepthwiseConv2D"] * 4
    assert _series_depthwise_types(fused) == ["DepthwiseConv2D"] * 4  # the input is untouched
    logits = keras.ops.convert_to_numpy(banded(FIXTURE.inputs, training=False))
    assert_matches_reference(logits, FIXTURE.outputs["deploy"])


def test_only_stride_one_same_depthwise_kernels_over_25_taps_are_banded():
    inputs = keras.Input((12, 12, 4))
    x = keras.layers.DepthwiseConv2D(7, padding="same", name="large")(inputs)
    x = keras.layers.DepthwiseConv2D(5, padding="same", name="small")(x)
    x = keras.layers.DepthwiseConv2D(7, strides=2, padding="same", name="strided")(x)
    model = keras.Model(inputs, x)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])

    banded = with_banded_depthwise(model)
    kinds = {layer.name: type(layer) for layer in banded.layers[1:]}
    assert kinds == {
        "large": BandedDepthwiseConv2D,
        "small": keras.layers.DepthwiseConv2D,
        "strided": keras.layers.DepthwiseConv2D,
    }
    x = rng.normal(size=(2, 12, 12, 4)).astype("float32")
    expected = keras.ops.convert_to_numpy(model(x))
    actual = keras.ops.convert_to_numpy(banded(x))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-5 * np.abs(expected).max())


def test_model_without_large_depthwise_kernels_is_returned_as_is():
    model = PPLCNet(0.25, input_shape=(32, 32, 3), classes=10)  # 3×3 and 5×5 kernels only
    assert with_banded_depthwise(model) is model


def test_subclassed_model_is_returned_as_is():
    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.depthwise = keras.layers.DepthwiseConv2D(7, padding="same")

        def call(self, inputs):
            return self.depthwise(inputs)

    model = Subclassed()
    model(np.zeros((1, 8, 8, 2), "float32"))
    assert with_banded_depthwise(model) is model


def test_sequential_model_is_banded():
    model = keras.Sequential(
        [keras.Input((9, 9, 3)), keras.layers.DepthwiseConv2D(7, padding="same", name="dw")]
    )
    assert isinstance(with_banded_depthwise(model).get_layer("dw"), BandedDepthwiseConv2D)


def test_tflite_export_has_no_depthwise_kernel_over_25_taps(tmp_path):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("export runs on the TensorFlow backend")
    pytest.importorskip("ai_edge_litert")
    from ai_edge_litert.interpreter import Interpreter

    from keras_minimal.deploy.exporter import export

    path = str(tmp_path / "model.tflite")
    model = _official_deploy_model()
    assert export(model, path, "tflite", verification_data=FIXTURE.inputs).passed
    interpreter = Interpreter(path)
    shapes = {t["index"]: tuple(t["shape"]) for t in interpreter.get_tensor_details()}
    depthwise = [
        shapes[op["inputs"][1]]
        for op in interpreter._get_ops_details()
        if op["op_name"] == "DEPTHWISE_CONV_2D"
    ]
    assert len(depthwise) == 3 * 4  # three row bands of each 7×7 series activation
    assert all(kh * kw <= 25 for _, kh, kw, _ in depthwise)
