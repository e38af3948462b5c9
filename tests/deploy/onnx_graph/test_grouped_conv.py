"""A grouped convolution that tf2onnx splits per group becomes one Conv with `group`."""

import keras
import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("tf2onnx")
from onnx import helper  # noqa: E402

from keras_minimal.applications import NFNet  # noqa: E402
from keras_minimal.applications.nfnet.variants import TEST_CONFIG  # noqa: E402
from keras_minimal.deploy.onnx_graph.grouped_conv import merge_grouped_convolutions  # noqa: E402
from tests.deploy.onnx_graph.graphs import (  # noqa: E402
    assert_same_outputs,
    images,
    is_tensorflow,
    make_model,
    op_counts,
    randomize_weights,
    rewritten,
    tf2onnx_graph,
    transposes_feeding,
)

GROUPS, GROUP_IN, GROUP_OUT = 3, 2, 4


def _split_conv_graph(through_nhwc=True, with_bias=True, reads=(0, 1, 2)):
    """x (NCHW, 6 channels, 10×10) → Split in 3 → a 3×3 stride-2 Conv per group → Concat, as tf2onnx
    writes Keras' grouped convolution (through_nhwc: the Split runs on an NHWC Transpose and
    each group's input is transposed back); group k reads the Split's output reads[k]."""
    rng = np.random.default_rng(0)
    split_outputs = [f"part{k}" for k in range(GROUPS)]
    nodes, initializers = [], {"sizes": np.array([GROUP_IN] * GROUPS, "int64")}
    if through_nhwc:
        nodes.append(helper.make_node("Transpose", ["x"], ["x_nhwc"], perm=[0, 2, 3, 1]))
        nodes.append(helper.make_node("Split", ["x_nhwc", "sizes"], split_outputs, axis=-1))
    else:
        nodes.append(helper.make_node("Split", ["x", "sizes"], split_outputs, axis=1))
    for k in range(GROUPS):
        source = split_outputs[reads[k]]
        if through_nhwc:
            nodes.append(helper.make_node("Transpose", [source], [f"nchw{k}"], perm=[0, 3, 1, 2]))
            source = f"nchw{k}"
        initializers[f"w{k}"] = rng.normal(size=(GROUP_OUT, GROUP_IN, 3, 3)).astype("float32")
        initializers[f"b{k}"] = rng.normal(size=(GROUP_OUT,)).astype("float32")
        inputs = [source, f"w{k}"] + [f"b{k}"] * with_bias
        nodes.append(
            helper.make_node(
                "Conv", inputs, [f"y{k}"], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1]
            )
        )
    nodes.append(helper.make_node("Concat", [f"y{k}" for k in range(GROUPS)], ["y"], axis=1))
    return make_model(
        nodes,
        [("x", [2, GROUPS * GROUP_IN, 10, 10])],
        [("y", [2, GROUPS * GROUP_OUT, 5, 5])],
        initializers,
    )


def _x():
    return np.random.default_rng(1).normal(size=(2, GROUPS * GROUP_IN, 10, 10)).astype("float32")


@pytest.mark.parametrize("through_nhwc", [True, False])
@pytest.mark.parametrize("with_bias", [True, False])
def test_split_convolutions_become_one_grouped_conv(through_nhwc, with_bias):
    original = _split_conv_graph(through_nhwc, with_bias)
    new, count = rewritten(original, merge_grouped_convolutions)
    assert count == 1
    assert list(op_counts(new).elements()) == ["Conv"]
    (conv,) = new.graph.node
    attributes = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
    assert attributes["group"] == GROUPS and attributes["strides"] == [2, 2]
    assert list(conv.input)[0] == "x" and len(conv.input) == 2 + with_bias
    assert_same_outputs(original, new, _x())


def test_groups_that_read_the_split_out_of_order_are_left_alone():
    # Group 0 reads the second part: one Conv with `group` would compute another function.
    original = _split_conv_graph(reads=(1, 0, 2))
    new, count = rewritten(original, merge_grouped_convolutions)
    assert count == 0 and op_counts(new)["Conv"] == GROUPS
    assert_same_outputs(original, new, _x())


@pytest.mark.skipif(not is_tensorflow(), reason="export goes through tf2onnx")
def test_nfnet_runs_one_conv_per_convolution_layer(tmp_path):
    model = randomize_weights(
        NFNet(**TEST_CONFIG, classes=10, classifier_activation=None, input_shape=(64, 64, 3))
    )
    original = tf2onnx_graph(model, tmp_path / "nfnet.onnx")
    assert op_counts(original)["Split"] > 0  # what this rewrite is for
    new, count = rewritten(original, merge_grouped_convolutions)
    counts = op_counts(new)
    conv_layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    grouped = [layer for layer in conv_layers if layer.groups > 1]
    assert count == len(grouped) > 0
    assert counts["Conv"] == len(conv_layers)
    assert counts["Split"] == counts["Concat"] == 0
    # Only the stem reads a Transpose (of the NHWC input): no group's input is moved back.
    assert transposes_feeding(new, "Conv") == 1
    assert transposes_feeding(original, "Conv") > 1
    assert_same_outputs(original, new, images(1, 64))
