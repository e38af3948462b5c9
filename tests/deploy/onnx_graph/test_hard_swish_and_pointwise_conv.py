"""The ONNX rewrite: tf2onnx's four-node hard-swish becomes one HardSwish, same outputs."""

import keras
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from keras_minimal.deploy.onnx_graph.hard_swish import fuse_hard_swish  # noqa: E402
from keras_minimal.deploy.onnx_graph.pointwise_conv import pointwise_matmuls_to_conv  # noqa: E402


def _scalar(name, value):
    return numpy_helper.from_array(np.array(value, "float32"), name)


def _hard_swish_graph(opset=17, offset=3.0):
    """y = x · clip(x + offset, 0, 6) · (1/6), as tf2onnx writes Keras' hard_silu."""
    nodes = [
        helper.make_node("Add", ["x", "offset"], ["shifted"], name="add"),
        helper.make_node("Clip", ["shifted", "zero", "six"], ["clipped"], name="relu6"),
        helper.make_node("Mul", ["clipped", "sixth"], ["gate"], name="truediv"),
        helper.make_node("Mul", ["x", "gate"], ["y"], name="mul"),
    ]
    graph = helper.make_graph(
        nodes,
        "hard_swish",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5])],
        [
            _scalar("offset", offset),
            _scalar("zero", 0.0),
            _scalar("six", 6.0),
            _scalar("sixth", 1.0 / 6.0),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _run(model, x):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def test_hard_swish_becomes_one_node_with_the_same_values():
    x = np.linspace(-5, 5, 10, dtype="float32").reshape(2, 5)
    model = _hard_swish_graph()
    assert fuse_hard_swish(model) == 1
    onnx.checker.check_model(model)
    assert [node.op_type for node in model.graph.node] == ["HardSwish"]
    assert list(model.graph.node[0].input) == ["x"] and list(model.graph.node[0].output) == ["y"]
    assert not model.graph.initializer  # the pattern's constants went with it
    np.testing.assert_allclose(_run(model, x), x * np.clip(x + 3, 0, 6) / 6, rtol=1e-6, atol=1e-7)


def test_other_offsets_and_old_opsets_are_left_alone():
    not_hard_swish = _hard_swish_graph(offset=2.0)
    assert fuse_hard_swish(not_hard_swish) == 0
    assert len(not_hard_swish.graph.node) == 4
    opset_13 = _hard_swish_graph(opset=13)  # HardSwish arrived in opset 14
    assert fuse_hard_swish(opset_13) == 0
    assert len(opset_13.graph.node) == 4


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="export goes through tf2onnx")
def test_exported_pplcnet_uses_hard_swish_and_keeps_parity(tmp_path):
    pytest.importorskip("tf2onnx")
    from keras_minimal.applications import PPLCNet_x0_25
    from keras_minimal.deploy import export

    model = PPLCNet_x0_25(input_shape=(64, 64, 3), classes=10, classifier_activation=None)
    path = str(tmp_path / "model.onnx")
    result = export(model, path, "onnx")
    assert result.passed and result.checks[-1].max_rel_error <= 1e-4
    op_types = [node.op_type for node in onnx.load(path).graph.node]
    # Stem, and depthwise + pointwise of each of the 13 blocks, then the head: 28 hard-swishes.
    assert op_types.count("HardSwish") == 28
    # The two squeeze-excite hard-sigmoids are one HardSigmoid each (onnx_graph/hard_sigmoid.py).
    assert op_types.count("HardSigmoid") == 2 and op_types.count("Clip") == 0


def _pointwise_dense_graph(with_bias=True, with_relu=False):
    """A 1×1 convolution as tf2onnx writes a channel-axis Dense between NCHW convolutions
    (with a ReLU before the Transpose back when no pool follows the Dense)."""
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(4, 6)).astype("float32")
    bias = rng.normal(size=(6,)).astype("float32")
    last = "biased" if with_bias else "flat_out"
    relu = [helper.make_node("Relu", [last], ["relu"])] if with_relu else []
    last = "relu" if with_relu else last
    nodes = [
        helper.make_node("Transpose", ["x"], ["nhwc"], perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", ["nhwc", "to_rows"], ["rows"]),
        helper.make_node("MatMul", ["rows", "kernel"], ["product"]),
        helper.make_node("Reshape", ["product", "to_image"], ["flat_out"]),
        *([helper.make_node("Add", ["flat_out", "bias"], ["biased"])] if with_bias else []),
        *relu,
        helper.make_node("Transpose", [last], ["y"], perm=[0, 3, 1, 2]),
    ]
    graph = helper.make_graph(
        nodes,
        "pointwise",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4, 3, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 6, 3, 5])],
        [
            numpy_helper.from_array(np.array([-1, 4], "int64"), "to_rows"),
            numpy_helper.from_array(np.array([2, 3, 5, 6], "int64"), "to_image"),
            numpy_helper.from_array(kernel, "kernel"),
            numpy_helper.from_array(bias, "bias"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return model, kernel, bias if with_bias else np.zeros(6, "float32")


@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("with_relu", [False, True])
def test_channel_axis_matmul_becomes_a_1x1_conv(with_bias, with_relu):
    model, kernel, bias = _pointwise_dense_graph(with_bias, with_relu)
    x = np.random.default_rng(1).normal(size=(2, 4, 3, 5)).astype("float32")
    assert pointwise_matmuls_to_conv(model) == 1
    onnx.checker.check_model(model)
    assert [node.op_type for node in model.graph.node] == ["Conv"] + ["Relu"] * with_relu
    expected = np.einsum("nchw,cd->ndhw", x, kernel) + bias[None, :, None, None]
    if with_relu:
        expected = np.maximum(expected, 0.0)
    np.testing.assert_allclose(_run(model, x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="export goes through tf2onnx")
@pytest.mark.parametrize(
    "batch_size", [None, 2]
)  # dynamic batch: the Reshapes' shapes are computed
def test_exported_vanillanet_runs_its_dense_layers_as_convolutions(tmp_path, batch_size):
    pytest.importorskip("tf2onnx")
    from keras_minimal.applications import VanillaNet
    from keras_minimal.deploy import export

    # The stride-1 last stage has no pool between its 1×1 convolution and the ReLU.
    model = VanillaNet(
        (16, 32, 48, 48), (2, 2, 1), classes=5, classifier_activation=None, deploy=True
    )
    rng = np.random.default_rng(0)
    for variable in model.trainable_weights:  # non-zero biases: tf2onnx must keep their Adds
        variable.assign(rng.normal(0, 0.1, variable.shape).astype("float32"))
    path = str(tmp_path / "model.onnx")
    result = export(model, path, "onnx", batch_size=batch_size, image_size=64)
    assert result.passed and result.checks[-1].max_rel_error <= 1e-4
    op_types = [node.op_type for node in onnx.load(path).graph.node]
    # stem conv, three stage 1×1 convs, four depthwise series activations; only the
    # classifier (on pooled vectors) stays a MatMul, and one Transpose brings NHWC input in.
    assert op_types.count("Conv") == 8 and op_types.count("MatMul") + op_types.count("Gemm") == 1
    assert op_types.count("Transpose") == 1 and "Reshape" not in op_types
