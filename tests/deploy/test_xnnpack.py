"""with_banded_depthwise: the TFLite form of a model, same weights and outputs."""

import keras
import numpy as np
import pytest

from keras_minimal.applications import PPLCNet, VanillaNet
from keras_minimal.deploy import to_deploy
from keras_minimal.deploy.xnnpack import with_banded_depthwise
from keras_minimal.layers import BandedDepthwiseConv2D, SeriesActivation
from keras_minimal.weights import load_reference
from tests.helpers import assert_matches_reference, load_fixture, vanillanet_for

pytestmark = pytest.mark.multibackend

FIXTURE = load_fixture("vanillanet_tiny5")


def _official_deploy_model():
    return to_deploy(load_reference(vanillanet_for(FIXTURE), FIXTURE.state_dict))


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
    x = keras.layers.DepthwiseConv2D((1, 27), padding="same", name="rows_over_25")(x)
    model = keras.Model(inputs, x)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])

    banded = with_banded_depthwise(model)
    kinds = {layer.name: type(layer) for layer in banded.layers[1:]}
    assert kinds == {
        "large": BandedDepthwiseConv2D,
        "small": keras.layers.DepthwiseConv2D,
        "strided": keras.layers.DepthwiseConv2D,
        "rows_over_25": keras.layers.DepthwiseConv2D,  # a band holds whole rows
    }
    x = rng.normal(size=(2, 12, 12, 4)).astype("float32")
    expected = keras.ops.convert_to_numpy(model(x))
    actual = keras.ops.convert_to_numpy(banded(x))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-5 * np.abs(expected).max())


def test_series_activation_wider_than_a_band_is_kept_whole():
    model = VanillaNet((8, 16), (2,), act_num=13, input_shape=(32, 32, 3), classes=3)
    assert with_banded_depthwise(model) is model  # 27×27 kernels: nothing to band


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


def _tflite_depthwise_kernel_shapes(model, tmp_path, inputs):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("export runs on the TensorFlow backend")
    pytest.importorskip("ai_edge_litert")
    from ai_edge_litert.interpreter import Interpreter

    from keras_minimal.deploy.exporter import export

    path = str(tmp_path / "model.tflite")
    assert export(model, path, "tflite", verification_data=inputs).passed
    interpreter = Interpreter(path)
    shapes = {t["index"]: tuple(t["shape"]) for t in interpreter.get_tensor_details()}
    return [
        shapes[op["inputs"][1]]
        for op in interpreter._get_ops_details()
        if op["op_name"] == "DEPTHWISE_CONV_2D"
    ]


def test_tflite_export_has_no_depthwise_kernel_over_25_taps(tmp_path):
    depthwise = _tflite_depthwise_kernel_shapes(_official_deploy_model(), tmp_path, FIXTURE.inputs)
    # Three row bands per 7×7 series activation; the last (on a 2×2 map) needs only its centre.
    assert len(depthwise) == 3 * 3 + 1
    assert all(kh * kw <= 25 for _, kh, kw, _ in depthwise)


def test_bands_that_only_see_padding_are_left_out(tmp_path):
    # At 32² the series activations see 8², 4², 2² and 1² maps; the outer bands of a 7×7
    # kernel sit ±2 and ±3 rows away, so at 2² and 1² only the centre band reads the image.
    # (All-zero bands made XNNPACK refuse a trained int8 model with int8 inputs/outputs.)
    config = FIXTURE.config
    model = VanillaNet(config["dims"], config["strides"], input_shape=(32, 32, 3), classes=10)
    inputs = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    depthwise = _tflite_depthwise_kernel_shapes(to_deploy(model), tmp_path, inputs)
    assert sorted(kh for _, kh, _, _ in depthwise) == [2, 2, 2, 2, 3, 3, 3, 3]
