"""Reshape → MatMul → Reshape on the last axis (TensorFlow's Tensordot) becomes one MatMul."""

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
from onnx import helper  # noqa: E402

from keras_minimal.deploy.onnx_graph.tensordot import matmul_without_reshapes  # noqa: E402
from tests.deploy.onnx_graph.graphs import (  # noqa: E402
    assert_same_outputs,
    make_model,
    op_counts,
    rewritten,
    run,
)

KERNEL = np.random.default_rng(0).normal(size=(5, 7)).astype("float32")


def _graph(back=(-1, 3, 4, 7), batch="N"):
    """x (N, 3, 4, 5) → rows (N·12, 5) → MatMul (5, 7) → Reshape to `back`."""
    nodes = [
        helper.make_node("Reshape", ["x", "rows"], ["flat"]),
        helper.make_node("MatMul", ["flat", "kernel"], ["product"]),
        helper.make_node("Reshape", ["product", "back"], ["y"]),
    ]
    constants = {
        "rows": np.array([-1, 5], "int64"),
        "back": np.array(back, "int64"),
        "kernel": KERNEL,
    }
    out_shape = [batch, *back[1:]]
    return make_model(nodes, [("x", [batch, 3, 4, 5])], [("y", out_shape)], constants)


def _x(batch):
    return np.random.default_rng(1).normal(size=(batch, 3, 4, 5)).astype("float32")


@pytest.mark.parametrize("back, batch", [((-1, 3, 4, 7), "N"), ((2, 3, 4, 7), 2)])
def test_tensordot_becomes_one_matmul(back, batch):
    original = _graph(back, batch)
    new, count = rewritten(original, matmul_without_reshapes)
    assert count == 1 and list(op_counts(new).elements()) == ["MatMul"]
    for n in (2,) if batch == 2 else (1, 3):
        assert_same_outputs(original, new, _x(n))
        np.testing.assert_allclose(run(new, _x(n)), _x(n) @ KERNEL, rtol=1e-5, atol=1e-5)


def test_a_reshape_to_another_layout_is_left_alone():
    original = _graph(back=(-1, 12, 7))  # (N, H·W, D): not the input's leading axes
    new, count = rewritten(original, matmul_without_reshapes)
    assert count == 0 and op_counts(new)["Reshape"] == 2
