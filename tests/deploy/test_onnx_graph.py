"""The ONNX rewrite: tf2onnx's four-node hard-swish becomes one HardSwish, same outputs."""

import keras
import numpy as np
import pytest

from keras_minimal.deploy.onnx_graph import fuse_hard_swish

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


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
    assert op_types.count("Clip") == 2  # only the two SE hard-sigmoids remain
