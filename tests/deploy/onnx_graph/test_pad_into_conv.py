"""An explicit zero Pad before a Conv becomes the Conv's own `pads`."""

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
from onnx import helper  # noqa: E402

from keras_minimal.deploy.onnx_graph.pad_into_conv import fold_pads_into_conv  # noqa: E402
from tests.deploy.onnx_graph.graphs import (  # noqa: E402
    assert_same_outputs,
    make_model,
    op_counts,
    rewritten,
)


def _pad_conv_graph(pads, mode="constant", value=0.0, conv_pads=(0, 0, 0, 0)):
    """x (1, 4, 9, 9) → Pad(pads) → depthwise 3×3 stride-2 Conv, as PP-LCNet's stride-2
    blocks reach ONNX."""
    kernel = np.random.default_rng(0).normal(size=(4, 1, 3, 3)).astype("float32")
    nodes = [
        helper.make_node("Pad", ["x", "pads", "value"], ["padded"], mode=mode),
        helper.make_node(
            "Conv",
            ["padded", "kernel", "bias"],
            ["y"],
            kernel_shape=[3, 3],
            strides=[2, 2],
            group=4,
            pads=list(conv_pads),
        ),
    ]
    initializers = {
        "pads": np.array(pads, "int64"),
        "value": np.float32(value),
        "kernel": kernel,
        "bias": np.arange(4, dtype="float32"),
    }
    return make_model(nodes, [("x", [1, 4, 9, 9])], [("y", [1, 4, "H", "W"])], initializers)


def _x():
    return np.random.default_rng(1).normal(size=(1, 4, 9, 9)).astype("float32")


@pytest.mark.parametrize(
    "pads, conv_pads, expected",
    [
        ([0, 0, 1, 1, 0, 0, 1, 1], (0, 0, 0, 0), [1, 1, 1, 1]),
        ([0, 0, 0, 1, 0, 0, 2, 1], (1, 0, 0, 1), [1, 1, 2, 2]),  # uneven, added to the Conv's
    ],
)
def test_zero_padding_moves_into_the_conv(pads, conv_pads, expected):
    original = _pad_conv_graph(pads, conv_pads=conv_pads)
    new, count = rewritten(original, fold_pads_into_conv)
    assert count == 1 and list(op_counts(new).elements()) == ["Conv"]
    (conv,) = new.graph.node
    assert conv.input[0] == "x"
    assert [helper.get_attribute_value(a) for a in conv.attribute if a.name == "pads"] == [expected]
    assert_same_outputs(original, new, _x())


@pytest.mark.parametrize(
    "pads, mode, value",
    [
        ([0, 0, 1, 1, 0, 0, 1, 1], "reflect", 0.0),  # not zeros
        ([0, 0, 1, 1, 0, 0, 1, 1], "constant", 1.0),  # not zeros
        ([0, 1, 1, 1, 0, 0, 1, 1], "constant", 0.0),  # pads a channel
    ],
)
def test_other_padding_is_left_alone(pads, mode, value):
    original = _pad_conv_graph(pads, mode=mode, value=value)
    new, count = rewritten(original, fold_pads_into_conv)
    assert count == 0 and op_counts(new)["Pad"] == 1
