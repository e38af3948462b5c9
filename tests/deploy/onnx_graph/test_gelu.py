"""tf2onnx's erf-GELU becomes the form that onnxruntime fuses into one Gelu kernel."""

import math

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
from onnx import helper  # noqa: E402

from keras_minimal.deploy.onnx_graph.gelu import canonical_gelu  # noqa: E402
from tests.deploy.onnx_graph.graphs import (  # noqa: E402
    assert_same_outputs,
    make_model,
    op_counts,
    optimized_by_onnxruntime,
    rewritten,
    run,
)

GAMMA = 1.7015043497085571  # NFNet's GELU gain
erf = np.vectorize(math.erf)


def _gelu_graph(scaled):
    """0.5·x·(1 + erf(x·(1/√2))) as tf2onnx writes Keras' exact GELU (scaled: NFNet's
    γ·GELU, the γ multiplied into the (1 + erf) term)."""
    one_plus = "scaled_one_plus" if scaled else "one_plus"
    nodes = [
        helper.make_node("Mul", ["x", "inv_sqrt2"], ["arg"]),
        helper.make_node("Erf", ["arg"], ["erf"]),
        helper.make_node("Add", ["one", "erf"], ["one_plus"]),
        *([helper.make_node("Mul", ["gamma", "one_plus"], [one_plus])] if scaled else []),
        helper.make_node("Mul", ["half", "x"], ["half_x"]),
        helper.make_node("Mul", ["half_x", one_plus], ["y"]),
    ]
    constants = {
        "inv_sqrt2": np.float32(1 / np.sqrt(2)),
        "one": np.float32(1.0),
        "half": np.float32(0.5),
        "gamma": np.float32(GAMMA),
    }
    if not scaled:
        del constants["gamma"]
    return make_model(nodes, [("x", [2, 16, 8, 8])], [("y", [2, 16, 8, 8])], constants)


@pytest.mark.parametrize("scaled", [False, True])
def test_gelu_is_fused_by_onnxruntime_after_the_rewrite(scaled, tmp_path):
    original = _gelu_graph(scaled)
    new, count = rewritten(original, canonical_gelu)
    assert count == 1
    assert "Gelu" not in optimized_by_onnxruntime(original, tmp_path)  # what the rewrite is for
    fused = optimized_by_onnxruntime(new, tmp_path)
    assert fused["Gelu"] == 1 and fused["Erf"] == 0
    assert op_counts(new)["Mul"] == 2 + scaled  # γ stays one Mul after the fused GELU
    x = np.random.default_rng(0).normal(0, 2, (2, 16, 8, 8)).astype("float32")
    assert_same_outputs(original, new, x)
    expected = 0.5 * x * (1 + erf(x / np.sqrt(2))) * (GAMMA if scaled else 1.0)
    np.testing.assert_allclose(run(new, x), expected, rtol=1e-5, atol=1e-6)


def test_other_erf_uses_are_left_alone():
    original = _gelu_graph(scaled=False)
    original.graph.initializer[2].CopyFrom(  # 0.25·x·(1 + erf): not a GELU
        helper.make_tensor("half", 1, [], [0.25])
    )
    new, count = rewritten(original, canonical_gelu)
    assert count == 0 and op_counts(new)["Erf"] == 1
