"""Shape arithmetic on known dimensions is computed at export: Reshapes get constant targets
(-1 for a dynamic batch), no-op Reshapes go, constant subgraphs are folded."""

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("tf2onnx")
from onnx import helper  # noqa: E402

from keras_minimal.applications import ConvNeXt  # noqa: E402
from keras_minimal.applications.convnext.variants import TEST_CONFIG  # noqa: E402
from keras_minimal.deploy.onnx_graph.static_shapes import fold_static_shapes  # noqa: E402
from tests.deploy.onnx_graph.graphs import (  # noqa: E402
    assert_same_outputs,
    images,
    is_tensorflow,
    make_model,
    op_counts,
    randomize_weights,
    rewritten,
    run,
    tf2onnx_graph,
)

SHAPE_ARITHMETIC = ("Shape", "Gather", "Cast", "Concat", "ReduceProd", "Unsqueeze")


def _tensordot_graph(height="H"):
    """y = x (N, 4, 3, 5; N dynamic) seen as NHWC and multiplied by a (5, 6) kernel, as
    tf2onnx writes a Dense for a dynamic batch: the output shape is gathered from the input's
    shape at run time. height="H" makes the height dynamic too."""
    kernel = np.random.default_rng(0).normal(size=(5, 6)).astype("float32")
    nodes = [
        helper.make_node("Reshape", ["x", "rows"], ["flat"]),
        helper.make_node("MatMul", ["flat", "kernel"], ["product"]),
        helper.make_node("Shape", ["x"], ["shape64"]),
        helper.make_node("Cast", ["shape64"], ["shape32"], to=6),
        helper.make_node("Gather", ["shape32", "leading"], ["kept"], axis=0),
        helper.make_node("Concat", ["kept", "units"], ["target32"], axis=0),
        helper.make_node("Cast", ["target32"], ["target"], to=7),
        helper.make_node("Reshape", ["product", "target"], ["y"]),
    ]
    initializers = {
        "rows": np.array([-1, 5], "int64"),
        "kernel": kernel,
        "leading": np.array([0, 1, 2], "int64"),
        "units": np.array([6], "int32"),
    }
    model = make_model(
        nodes, [("x", ["N", 4, height, 5])], [("y", ["N", 4, height, 6])], initializers
    )
    return model, kernel


def _x(batch, height=3):
    return np.random.default_rng(1).normal(size=(batch, 4, height, 5)).astype("float32")


def test_a_reshape_target_computed_from_known_dimensions_becomes_a_constant():
    original, kernel = _tensordot_graph(height=3)
    new, count = rewritten(original, fold_static_shapes)
    assert count > 0
    assert not set(SHAPE_ARITHMETIC) & set(op_counts(new))
    (target,) = [t for t in new.graph.initializer if t.name == new.graph.node[-1].input[1]]
    assert list(np.frombuffer(target.raw_data, "int64")) == [-1, 4, 3, 6]
    for batch in (1, 3):  # the batch stays dynamic
        assert_same_outputs(original, new, _x(batch))
        np.testing.assert_allclose(run(new, _x(batch)), _x(batch) @ kernel, rtol=1e-5, atol=1e-5)


def test_a_target_with_two_unknown_dimensions_is_left_to_run_time():
    original, _ = _tensordot_graph(height="H")
    new, _ = rewritten(original, fold_static_shapes)
    assert op_counts(new)["Shape"] == 1
    for height in (3, 7):
        assert_same_outputs(original, new, _x(2, height))


@pytest.mark.skipif(not is_tensorflow(), reason="export goes through tf2onnx")
def test_dynamic_batch_convnext_has_no_shape_arithmetic(tmp_path):
    model = randomize_weights(
        ConvNeXt(**TEST_CONFIG, classes=10, classifier_activation=None, input_shape=(32, 32, 3))
    )
    original = tf2onnx_graph(model, tmp_path / "convnext.onnx", batch_size=None)
    assert op_counts(original)["Shape"] > 0  # what this rewrite is for
    new, _ = rewritten(original, fold_static_shapes)
    counts = op_counts(new)
    assert [counts[op] for op in SHAPE_ARITHMETIC] == [0] * len(SHAPE_ARITHMETIC)
    # Each LayerNorm reshaped its mean to the shape it had; those Reshapes are gone too.
    assert counts["Reshape"] < op_counts(original)["Reshape"]
    for batch in (1, 2):
        assert_same_outputs(original, new, images(batch, 32))


def _constant_graph(fill_shape):
    """y = x + Expand(2.0, fill_shape): the Expand reads only constants."""
    nodes = [
        helper.make_node("Expand", ["two", "fill_shape"], ["filled"]),
        helper.make_node("Add", ["x", "filled"], ["y"]),
    ]
    constants = {"two": np.float32(2.0), "fill_shape": np.array(fill_shape, "int64")}
    return make_model(nodes, [("x", fill_shape)], [("y", fill_shape)], constants)


def test_constant_nodes_are_computed_once_unless_that_grows_the_file():
    small = _constant_graph([2, 3])
    new, count = rewritten(small, fold_static_shapes)
    assert count == 1 and list(op_counts(new).elements()) == ["Add"]
    x = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(run(new, x), x + 2.0)
    large = _constant_graph([1, 64, 32, 32])  # 65536 values from one: left to run time
    new, count = rewritten(large, fold_static_shapes)
    assert count == 0 and op_counts(new)["Expand"] == 1
