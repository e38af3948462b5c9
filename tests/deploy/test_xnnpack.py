"""for_xnnpack: the TFLite form of a model, same weights and outputs."""

import keras
import numpy as np
import pytest

from keras_minimal.applications import PPLCNet, VanillaNet
from keras_minimal.deploy import to_deploy
from keras_minimal.deploy.xnnpack import for_xnnpack
from keras_minimal.layers import BandedDepthwiseConv2D, GroupedConv2D, SeriesActivation
from keras_minimal.weights import load_reference
from tests import numpy_reference
from tests.helpers import assert_matches_reference, load_fixture, nfnet_for, vanillanet_for

pytestmark = pytest.mark.multibackend

FIXTURE = load_fixture("vanillanet_tiny5")
NFNET_FIXTURE = load_fixture("nfnet_tiny_dm")  # grouped convolutions of 2, 4 and 6 groups


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
    banded = for_xnnpack(fused)
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

    banded = for_xnnpack(model)
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
    assert for_xnnpack(model) is model  # 27×27 kernels: nothing to band


def test_model_without_large_depthwise_kernels_is_returned_as_is():
    model = PPLCNet(0.25, input_shape=(32, 32, 3), classes=10)  # 3×3 and 5×5 kernels only
    assert for_xnnpack(model) is model


def test_subclassed_model_is_returned_as_is():
    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.depthwise = keras.layers.DepthwiseConv2D(7, padding="same")

        def call(self, inputs):
            return self.depthwise(inputs)

    model = Subclassed()
    model(np.zeros((1, 8, 8, 2), "float32"))
    assert for_xnnpack(model) is model


def test_sequential_model_is_banded():
    model = keras.Sequential(
        [keras.Input((9, 9, 3)), keras.layers.DepthwiseConv2D(7, padding="same", name="dw")]
    )
    assert isinstance(for_xnnpack(model).get_layer("dw"), BandedDepthwiseConv2D)


def _exported_tflite(model, tmp_path, inputs, **options):
    """The verified TFLite export of `model`, loaded with XNNPACK applied."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("export runs on the TensorFlow backend")
    pytest.importorskip("ai_edge_litert")
    from ai_edge_litert.interpreter import Interpreter

    from keras_minimal.deploy.exporter import export

    path = str(tmp_path / "model.tflite")
    assert export(model, path, "tflite", verification_data=inputs, **options).passed
    interpreter = Interpreter(path)
    interpreter.allocate_tensors()
    return interpreter


def _tflite_depthwise_kernel_shapes(model, tmp_path, inputs):
    interpreter = _exported_tflite(model, tmp_path, inputs)
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


def _grouped_model(groups, strides):
    inputs = keras.Input((9, 10, 12))
    conv = GroupedConv2D(18, 3, strides=strides, padding="same", groups=groups, name="grouped")
    model = keras.Model(inputs, conv(inputs))
    rng = np.random.default_rng(groups)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    return model


@pytest.mark.parametrize("groups, strides", [(6, 1), (6, 2), (2, 2), (3, 1)])
def test_grouped_convolution_becomes_one_conv2d_equal_to_numpy(groups, strides):
    model = _grouped_model(groups, strides)
    rebuilt = for_xnnpack(model)
    assert type(rebuilt.get_layer("grouped")) is keras.layers.Conv2D
    assert rebuilt.get_layer("grouped").groups == groups
    assert type(model.get_layer("grouped")) is GroupedConv2D  # the input is untouched
    x = np.random.default_rng(0).normal(size=(2, 9, 10, 12)).astype("float32")
    kernel, bias = model.get_weights()
    expected = numpy_reference.conv2d_same(x, kernel, bias, stride=strides, groups=groups)
    assert_matches_reference(rebuilt(x), expected, rtol=1e-5)


def test_ungrouped_convolutions_are_left_as_they_are():
    model = _grouped_model(1, 1)
    assert for_xnnpack(model) is model


def _official_nfnet():
    return load_reference(nfnet_for(NFNET_FIXTURE), NFNET_FIXTURE.state_dict)


def _grouped_layers(model):
    return {
        layer.name: type(layer)
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv2D) and layer.groups > 1
    }


def test_nfnet_deploy_graph_s_grouped_convolutions_are_whole_with_the_official_logits():
    fused = to_deploy(_official_nfnet())
    rebuilt = for_xnnpack(fused)
    # conv2 and conv2b of each of the 5 blocks (2, 4, 6 and 6 groups in the four stages).
    assert _grouped_layers(rebuilt) == dict.fromkeys(_grouped_layers(fused), keras.layers.Conv2D)
    assert len(_grouped_layers(fused)) == 10
    assert set(_grouped_layers(fused).values()) == {GroupedConv2D}
    logits = rebuilt(NFNET_FIXTURE.inputs, training=False)
    assert_matches_reference(logits, NFNET_FIXTURE.outputs["logits"])


def _operators(interpreter):
    return [op for op in interpreter._get_ops_details() if op["op_name"] != "DELEGATE"]


def _is_dense_on_pooled_map(layer):
    return type(layer) is keras.layers.Dense and tuple(layer.input.shape[1:3]) == (1, 1)


@pytest.mark.parametrize("quantization, batch_size", [(None, 1), (None, None), ("fp16", None)])
def test_nfnet_tflite_export_is_one_xnnpack_partition(tmp_path, quantization, batch_size):
    fused = to_deploy(_official_nfnet())
    interpreter = _exported_tflite(
        fused, tmp_path, NFNET_FIXTURE.inputs, quantization=quantization, batch_size=batch_size
    )
    names = [op["op_name"] for op in _operators(interpreter)]
    # No per-group SPLIT / CONCATENATION, nor a dynamic batch's tensordot shape arithmetic.
    assert not {"SPLIT", "CONCATENATION", "SHAPE", "RESHAPE"} & set(names)
    # One CONV_2D per convolution and per squeeze-excite Dense; the classifier stays Dense.
    convolutions = [layer for layer in fused.layers if isinstance(layer, keras.layers.Conv2D)]
    gates = [layer for layer in fused.layers if _is_dense_on_pooled_map(layer)]
    assert len(gates) == 2 * 5
    assert names.count("CONV_2D") == len(convolutions) + len(gates)
    assert names.count("FULLY_CONNECTED") == 1
    # XNNPACK replaced the whole graph: one delegate node from the image to the logits.
    (delegate,) = [op for op in interpreter._get_ops_details() if op["op_name"] == "DELEGATE"]
    (image,) = interpreter.get_input_details()
    (logits,) = interpreter.get_output_details()
    assert image["index"] in delegate["inputs"]
    assert list(delegate["outputs"]) == [logits["index"]]


def test_dense_on_a_pooled_map_becomes_a_1x1_conv_equal_to_numpy():
    inputs = keras.Input((5, 6, 8))
    pooled = keras.layers.GlobalAveragePooling2D(keepdims=True)(inputs)
    hidden = keras.layers.Dense(4, activation="relu", name="fc1")(pooled)
    gate = keras.layers.Dense(8, activation="sigmoid", name="fc2")(hidden)
    gated = keras.layers.Multiply()([inputs, gate])
    per_pixel = keras.layers.Dense(3, name="per_pixel")(gated)  # on a 5×6 map: kept
    flat = keras.layers.GlobalAveragePooling2D()(per_pixel)
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(flat))  # 2-D: kept
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])

    rebuilt = for_xnnpack(model)
    kinds = {name: type(rebuilt.get_layer(name)) for name in ("fc1", "fc2", "per_pixel", "head")}
    assert kinds == {
        "fc1": keras.layers.Conv2D,
        "fc2": keras.layers.Conv2D,
        "per_pixel": keras.layers.Dense,
        "head": keras.layers.Dense,
    }
    assert tuple(rebuilt.get_layer("fc1").kernel.shape) == (1, 1, 8, 4)
    x = rng.normal(size=(2, 5, 6, 8)).astype("float32")
    w = {layer.name: layer.get_weights() for layer in model.layers if layer.weights}
    mean = x.mean(axis=(1, 2), keepdims=True)
    hidden = np.maximum(mean @ w["fc1"][0] + w["fc1"][1], 0)
    gate = 1 / (1 + np.exp(-(hidden @ w["fc2"][0] + w["fc2"][1])))
    per_pixel = (x * gate) @ w["per_pixel"][0] + w["per_pixel"][1]
    expected = per_pixel.mean(axis=(1, 2)) @ w["head"][0] + w["head"][1]
    assert_matches_reference(rebuilt(x), expected, rtol=1e-5)
