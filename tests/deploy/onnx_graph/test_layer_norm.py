"""tf2onnx's LayerNorm chain becomes one LayerNormalization (opset 17)."""

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
from onnx import helper  # noqa: E402

from keras_minimal.deploy.onnx_graph.layer_norm import fuse_layer_norm  # noqa: E402
from tests.deploy.onnx_graph.graphs import (  # noqa: E402
    assert_same_outputs,
    make_model,
    op_counts,
    rewritten,
    run,
)

C, EPS = 8, 1e-6
_RNG = np.random.default_rng(0)
GAMMA, BETA = _RNG.normal(size=C).astype("float32"), _RNG.normal(size=C).astype("float32")


def _layer_norm_nodes(x, axis, with_beta):
    """LayerNorm over `axis` as tf2onnx writes Keras' LayerNormalization: mean, the squared
    difference, its mean, + ε, Sqrt, Reciprocal, · γ, then x·k + (β − mean·k)."""
    shifted = "shifted" if with_beta else "minus_mean_k"
    return [
        helper.make_node("ReduceMean", [x], ["mean"], axes=[axis], keepdims=1),
        helper.make_node("Neg", ["mean"], ["neg_mean"]),
        helper.make_node("Sub", [x, "mean"], ["diff"]),
        helper.make_node("Mul", ["diff", "diff"], ["squared"]),
        helper.make_node("ReduceMean", ["squared"], ["variance"], axes=[axis], keepdims=1),
        helper.make_node("Add", ["variance", "eps"], ["plus_eps"]),
        helper.make_node("Sqrt", ["plus_eps"], ["std"]),
        helper.make_node("Reciprocal", ["std"], ["inv_std"]),
        helper.make_node("Mul", ["inv_std", "gamma"], ["k"]),
        helper.make_node("Mul", [x, "k"], ["x_k"]),
        helper.make_node("Mul", ["neg_mean", "k"], ["minus_mean_k"]),
        *([helper.make_node("Add", ["minus_mean_k", "beta"], ["shifted"])] if with_beta else []),
        helper.make_node("Add", ["x_k", shifted], ["normalized"]),
    ]


def _graph(layout, with_beta=True):
    """layout "nchw_then_nhwc": over the channels of NCHW x, then an NHWC Transpose (ConvNeXt's
    block); "nchw": over the channels of NCHW x, output NCHW (stem, downsampling); "last":
    over the last axis of (N, C) (the head)."""
    shape = [2, C] if layout == "last" else [2, C, 5, 6]
    axis = 1
    constant_shape = (1, C) if layout == "last" else (1, C, 1, 1)
    nodes = _layer_norm_nodes("x", axis, with_beta)
    out_shape = shape
    if layout == "nchw_then_nhwc":
        nodes.append(helper.make_node("Transpose", ["normalized"], ["y"], perm=[0, 2, 3, 1]))
        out_shape = [2, 5, 6, C]
    else:
        nodes[-1].output[0] = "y"
    constants = {
        "eps": np.full((1,) * len(shape), EPS, "float32"),
        "gamma": GAMMA.reshape(constant_shape),
        "beta": BETA.reshape(constant_shape),
    }
    if not with_beta:
        del constants["beta"]
    return make_model(nodes, [("x", shape)], [("y", out_shape)], constants)


def _expected(x, layout, with_beta):
    mean = x.mean(axis=1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=1, keepdims=True)
    shape = (1, C) if layout == "last" else (1, C, 1, 1)
    y = (x - mean) / np.sqrt(var + EPS) * GAMMA.reshape(shape)
    if with_beta:
        y = y + BETA.reshape(shape)
    return y.transpose(0, 2, 3, 1) if layout == "nchw_then_nhwc" else y


@pytest.mark.parametrize("layout, transposes", [("nchw_then_nhwc", 1), ("nchw", 2), ("last", 0)])
@pytest.mark.parametrize("with_beta", [True, False])
def test_layer_norm_becomes_one_node(layout, transposes, with_beta):
    original = _graph(layout, with_beta)
    new, count = rewritten(original, fuse_layer_norm)
    assert count == 1
    counts = op_counts(new)
    # Over the NCHW channel axis: after the block's own NHWC Transpose (moved before the
    # normalisation, no new one), elsewhere between two Transposes as timm's LayerNorm2d.
    assert counts == {"LayerNormalization": 1} | ({"Transpose": transposes} if transposes else {})
    shape = (2, C) if layout == "last" else (2, C, 5, 6)
    x = np.random.default_rng(1).normal(3.0, 2.0, shape).astype("float32")
    assert_same_outputs(original, new, x)
    np.testing.assert_allclose(run(new, x), _expected(x, layout, with_beta), atol=1e-5)


def test_a_different_reduction_is_left_alone():
    original = _graph("nchw")
    original.graph.node[4].attribute[0].ints[:] = [2]  # variance over H, not over C
    new, count = rewritten(original, fuse_layer_norm)
    assert count == 0 and op_counts(new)["ReduceMean"] == 2


def test_unit_gamma_written_as_expand_is_recognised():
    # With γ = 1 tf2onnx broadcasts 1/σ with Expand instead of multiplying by γ.
    original = _graph("last")
    k = next(node for node in original.graph.node if node.output[0] == "k")
    k.op_type, k.input[1] = "Expand", "expand_to"
    original.graph.initializer.append(
        helper.make_tensor("expand_to", 7, [2], np.array([1, C], "int64"))
    )
    new, count = rewritten(original, fuse_layer_norm)
    assert count == 1 and list(op_counts(new).elements()) == ["LayerNormalization"]
    x = np.random.default_rng(1).normal(3.0, 2.0, (2, C)).astype("float32")
    assert_same_outputs(original, new, x)
