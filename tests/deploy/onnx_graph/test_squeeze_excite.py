"""A squeeze-excite gate runs in NCHW: 1×1 Convs on the pooled tensor, no Reshape/Transpose."""

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
from onnx import helper  # noqa: E402

from keras_minimal.deploy.onnx_graph.squeeze_excite import squeeze_excite_in_nchw  # noqa: E402
from tests.deploy.onnx_graph.graphs import (  # noqa: E402
    assert_same_outputs,
    make_model,
    op_counts,
    rewritten,
    run,
)

C, HIDDEN = 6, 3
_RNG = np.random.default_rng(0)
W1, B1 = _RNG.normal(size=(C, HIDDEN)).astype("float32"), _RNG.normal(size=HIDDEN).astype("float32")
W2, B2 = _RNG.normal(size=(HIDDEN, C)).astype("float32"), _RNG.normal(size=C).astype("float32")


def _weights():
    return {
        "w1": W1,
        "b1": B1,
        "w2": W2,
        "b2": B2,
        "two": np.float32(2.0),
        "three": np.float32(3.0),
    }


def _tensordot_gate():
    """NFNet's gate as tf2onnx writes it: each Dense as Reshape → MatMul → Reshape (NHWC)
    → Add bias; sigmoid(·) · 2."""
    return [
        helper.make_node("Reshape", ["pooled", "rows_c"], ["r1"]),
        helper.make_node("MatMul", ["r1", "w1"], ["m1"]),
        helper.make_node("Reshape", ["m1", "nhwc_hidden"], ["r2"]),
        helper.make_node("Add", ["r2", "b1"], ["a1"]),
        helper.make_node("Relu", ["a1"], ["h"]),
        helper.make_node("Reshape", ["h", "rows_hidden"], ["r3"]),
        helper.make_node("MatMul", ["r3", "w2"], ["m2"]),
        helper.make_node("Reshape", ["m2", "nhwc_c"], ["r4"]),
        helper.make_node("Add", ["r4", "b2"], ["a2"]),
        helper.make_node("Sigmoid", ["a2"], ["s"]),
        helper.make_node("Mul", ["two", "s"], ["gate"]),
    ], {
        "rows_c": np.array([-1, C], "int64"),
        "nhwc_hidden": np.array([-1, 1, 1, HIDDEN], "int64"),
        "rows_hidden": np.array([-1, HIDDEN], "int64"),
        "nhwc_c": np.array([-1, 1, 1, C], "int64"),
    }


def _gemm_gate():
    """PP-LCNet's gate: Squeeze → Gemm → Relu → Gemm → hard-sigmoid → Reshape (NHWC)."""
    return [
        helper.make_node("Squeeze", ["pooled", "hw"], ["v"]),
        helper.make_node("Gemm", ["v", "w1", "b1"], ["g1"]),
        helper.make_node("Relu", ["g1"], ["h"]),
        helper.make_node("Gemm", ["h", "w2", "b2"], ["g2"]),
        helper.make_node("Add", ["g2", "three"], ["shifted"]),
        helper.make_node("Clip", ["shifted", "zero", "six"], ["clipped"]),
        helper.make_node("Div", ["clipped", "six"], ["gate2d"]),
        helper.make_node("Reshape", ["gate2d", "nhwc_c"], ["gate"]),
    ], {
        "hw": np.array([2, 3], "int64"),
        "zero": np.float32(0.0),
        "six": np.float32(6.0),
        "nhwc_c": np.array([-1, 1, 1, C], "int64"),
    }


def _se_graph(gate, back_to_nchw=True):
    """y = x · gate(mean of x over H, W), the product taken in NHWC between Transposes."""
    nodes, constants = gate()
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["pooled"]),
        *nodes,
        helper.make_node("Transpose", ["x"], ["x_nhwc"], perm=[0, 2, 3, 1]),
        helper.make_node("Mul", ["x_nhwc", "gate"], ["y_nhwc" if back_to_nchw else "y"]),
    ]
    if back_to_nchw:
        nodes.append(helper.make_node("Transpose", ["y_nhwc"], ["y"], perm=[0, 3, 1, 2]))
    out_shape = ["N", C, 4, 5] if back_to_nchw else ["N", 4, 5, C]
    return make_model(nodes, [("x", ["N", C, 4, 5])], [("y", out_shape)], _weights() | constants)


def _expected(x, gate):
    pooled = x.mean(axis=(2, 3))
    hidden = np.maximum(pooled @ W1 + B1, 0)
    logits = hidden @ W2 + B2
    if gate is _tensordot_gate:
        g = 2.0 / (1.0 + np.exp(-logits))
    else:
        g = np.clip(logits + 3.0, 0.0, 6.0) / 6.0
    return x * g[:, :, None, None]


def _x(batch=2):
    return np.random.default_rng(1).normal(size=(batch, C, 4, 5)).astype("float32")


@pytest.mark.parametrize("gate", [_tensordot_gate, _gemm_gate])
def test_gate_runs_in_nchw_with_1x1_convs(gate):
    original = _se_graph(gate)
    new, count = rewritten(original, squeeze_excite_in_nchw)
    assert count == 1
    counts = op_counts(new)
    assert counts["Conv"] == 2 and counts["GlobalAveragePool"] == 1
    for op in ("Transpose", "Reshape", "Squeeze", "MatMul", "Gemm"):
        assert counts[op] == 0, op
    for batch in (1, 3):
        assert_same_outputs(original, new, _x(batch))
        np.testing.assert_allclose(run(new, _x(batch)), _expected(_x(batch), gate), atol=1e-5)


def test_a_product_left_in_nhwc_is_left_alone():
    # The graph's output is NHWC: without the Transpose back there is nothing to remove.
    original = _se_graph(_tensordot_gate, back_to_nchw=False)
    new, count = rewritten(original, squeeze_excite_in_nchw)
    assert count == 0 and op_counts(new)["MatMul"] == 2


def test_a_reshape_across_samples_ends_the_gate():
    # (N, C) → (1, N·C) mixes the samples: the chain cannot be computed per sample in NCHW.
    original = _se_graph(_tensordot_gate)
    original.graph.initializer.append(
        helper.make_tensor("across", 7, [2], np.array([1, -1], "int64"))
    )
    first = next(node for node in original.graph.node if node.op_type == "Reshape")
    first.input[1] = "across"
    new, count = rewritten(original, squeeze_excite_in_nchw)
    assert count == 0 and op_counts(new)["MatMul"] == 2
