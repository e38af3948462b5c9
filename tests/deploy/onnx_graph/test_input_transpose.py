"""The input's layout Transpose moves before the elementwise preprocessing that led to it."""

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
from onnx import helper, numpy_helper  # noqa: E402

from keras_minimal.deploy.onnx_graph.input_transpose import transpose_input_first  # noqa: E402
from tests.deploy.onnx_graph.graphs import (  # noqa: E402
    make_model,
    op_counts,
    rewritten,
    run,
)

SHAPE = [2, 5, 4, 3]  # NHWC
TO_NCHW = [0, 3, 1, 2]
SCALE = np.array([0.5, -2.0, 3.0], "float32")
OFFSET = np.array([[[[1.0, -4.0, 0.25]]]], "float32")  # (1, 1, 1, 3), as Keras' Rescaling


PREPROCESSING = (("Mul", "scale", False), ("Add", "offset", False))


def _preprocessing_graph(ops=PREPROCESSING, outputs=("y",)):
    """x (NHWC) → each (op, constant, constant first) in turn → Transpose to NCHW."""
    nodes, previous = [], "x"
    for i, (op, constant, constant_first) in enumerate(ops):
        inputs = [constant, previous] if constant_first else [previous, constant]
        nodes.append(helper.make_node(op, inputs, [f"t{i}"]))
        previous = f"t{i}"
    nodes.append(helper.make_node("Transpose", [previous], ["y"], perm=TO_NCHW))
    constants = {"scale": SCALE, "offset": OFFSET, "two": np.float32(2.0)}
    used = {name for node in nodes for name in node.input}
    outs = [("y", [2, 3, 5, 4])] + [(name, SHAPE) for name in outputs if name != "y"]
    return make_model(
        nodes, [("x", SHAPE)], outs, {k: v for k, v in constants.items() if k in used}
    )


def _x():
    return np.random.default_rng(0).uniform(0, 255, SHAPE).astype("float32")


@pytest.mark.parametrize(
    "ops",
    [
        PREPROCESSING,  # include_preprocessing=True as tf2onnx writes it
        (("Sub", "offset", False), ("Div", "scale", False), ("Mul", "two", False)),
        (("Sub", "offset", True), ("Div", "scale", True)),  # c − x, c / x
    ],
)
def test_the_operations_follow_the_transpose_on_the_same_numbers(ops):
    original = _preprocessing_graph(ops)
    new, count = rewritten(original, transpose_input_first)
    assert count == 1
    assert [n.op_type for n in new.graph.node] == ["Transpose", *(op for op, _, _ in ops)]
    assert new.graph.node[0].input[0] == "x"
    # Per-channel constants now vary along the NCHW channel axis: (1, 3, 1, 1).
    shapes = {numpy_helper.to_array(t).shape for t in new.graph.initializer}
    assert shapes <= {(1, 3, 1, 1), (1, 1, 1, 1)}
    x = _x()
    np.testing.assert_array_equal(run(new, x), run(original, x))  # the same operations


def test_a_constant_with_more_axes_than_the_input_is_left_alone():
    # x (4-D) · c (5-D) is 5-D: no 4-D Transpose of x can come first.
    nodes = [
        helper.make_node("Mul", ["x", "scale"], ["t0"]),
        helper.make_node("Transpose", ["t0"], ["y"], perm=[0, 1, 4, 2, 3]),
    ]
    scale = {"scale": SCALE.reshape(1, 1, 1, 1, 3)}
    original = make_model(nodes, [("x", SHAPE)], [("y", [1, 2, 3, 5, 4])], scale)
    new, count = rewritten(original, transpose_input_first)
    assert count == 0 and new == original


def test_a_preprocessed_tensor_read_elsewhere_is_left_alone():
    # The scaled image is also a graph output: it must stay NHWC.
    original = _preprocessing_graph(outputs=("y", "t0"))
    new, count = rewritten(original, transpose_input_first)
    assert count == 0 and new == original


@pytest.mark.parametrize(
    "nodes",
    [
        [helper.make_node("Mul", ["x", "x"], ["t0"])],  # no constant
        [helper.make_node("Relu", ["x"], ["t0"])],  # not a binary op with a constant
        [helper.make_node("Identity", ["x"], ["t0"])],
    ],
)
def test_other_operations_before_the_transpose_are_left_alone(nodes):
    nodes = [*nodes, helper.make_node("Transpose", ["t0"], ["y"], perm=TO_NCHW)]
    original = make_model(nodes, [("x", SHAPE)], [("y", [2, 3, 5, 4])], {})
    new, count = rewritten(original, transpose_input_first)
    assert count == 0 and op_counts(new) == op_counts(original)


def test_an_input_read_directly_by_its_transpose_is_left_alone():
    nodes = [helper.make_node("Transpose", ["x"], ["y"], perm=TO_NCHW)]
    original = make_model(nodes, [("x", SHAPE)], [("y", [2, 3, 5, 4])], {})
    new, count = rewritten(original, transpose_input_first)
    assert count == 0 and new == original
