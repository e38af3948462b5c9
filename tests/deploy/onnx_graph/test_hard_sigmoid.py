"""relu6(x + 3) / 6 becomes one HardSigmoid (α = 1/6, β = 1/2)."""

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
from onnx import helper  # noqa: E402

from keras_minimal.deploy.onnx_graph.hard_sigmoid import fuse_hard_sigmoid  # noqa: E402
from tests.deploy.onnx_graph.graphs import (  # noqa: E402
    assert_same_outputs,
    make_model,
    op_counts,
    rewritten,
    run,
)


def _graph(divide=False, three_shape=()):
    """y = clip(x + 3, 0, 6) · (1/6) (or / 6) on x (2, 6)."""
    last = (
        helper.make_node("Div", ["clipped", "six"], ["y"])
        if divide
        else helper.make_node("Mul", ["clipped", "sixth"], ["y"])
    )
    nodes = [
        helper.make_node("Add", ["x", "three"], ["shifted"]),
        helper.make_node("Clip", ["shifted", "zero", "six"], ["clipped"]),
        last,
    ]
    constants = {
        "three": np.full(three_shape, 3.0, "float32"),
        "zero": np.float32(0.0),
        "six": np.float32(6.0),
        "sixth": np.float32(1.0 / 6.0),
    }
    out_shape = [1] * (len(three_shape) - 2) + [2, 6]
    return make_model(nodes, [("x", [2, 6])], [("y", out_shape)], constants)


X = np.linspace(-5, 5, 12, dtype="float32").reshape(2, 6)


@pytest.mark.parametrize("divide", [False, True])
def test_hard_sigmoid_becomes_one_node(divide):
    original = _graph(divide)
    new, count = rewritten(original, fuse_hard_sigmoid)
    assert count == 1 and list(op_counts(new).elements()) == ["HardSigmoid"]
    assert_same_outputs(original, new, X)
    np.testing.assert_allclose(run(new, X), np.clip(X + 3, 0, 6) / 6, rtol=1e-6, atol=1e-7)


def test_a_constant_that_adds_axes_stays_before_the_hard_sigmoid():
    # (2, 6) + (1, 1, 1, 1) is 4-D: only clip(·, 0, 6) / 6 after the Add becomes HardSigmoid.
    original = _graph(three_shape=(1, 1, 1, 1))
    new, count = rewritten(original, fuse_hard_sigmoid)
    assert count == 1 and sorted(op_counts(new).elements()) == ["Add", "HardSigmoid"]
    assert_same_outputs(original, new, X)


def test_relu6_over_6_without_the_shift_is_a_hard_sigmoid_too():
    # With a zero bias tf2onnx folds the + 3 into the Gemm before the Clip.
    original = _graph()
    add = original.graph.node[0]
    add.op_type, add.input[1] = "Relu", ""
    del add.input[1]
    new, count = rewritten(original, fuse_hard_sigmoid)
    assert count == 1 and sorted(op_counts(new).elements()) == ["HardSigmoid", "Relu"]
    assert_same_outputs(original, new, X)
    np.testing.assert_allclose(run(new, X), np.clip(np.maximum(X, 0), 0, 6) / 6, atol=1e-7)
