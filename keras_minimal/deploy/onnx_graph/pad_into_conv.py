"""Keras pads a stride-2 "same" convolution whose padding TensorFlow would place unevenly
(PP-LCNet's ZeroPadding2D) with an explicit Pad; a Conv pads with zeros itself (`pads`),
without writing a padded copy of the activations."""

import numpy as np

from keras_minimal.deploy.onnx_graph.graph import Graph
from keras_minimal.deploy.onnx_graph.proto import attribute_value, make_node


def _zero_spatial_pads(g, i):
    """The [top, left, bottom, right] of Pad i when it zero-pads only H and W of an NCHW
    tensor; None otherwise."""
    node = g.nodes[i]
    if g.attribute(i, "mode", b"constant") not in (b"constant", "constant"):
        return None
    if len(node.input) > 2 and node.input[2] and not g.is_scalar(node.input[2], 0.0):
        return None
    if len(node.input) > 3 and node.input[3]:  # explicit axes
        return None
    pads = g.constants.get(node.input[1]) if len(node.input) > 1 else None
    if pads is None or pads.shape != (8,) or (pads < 0).any():
        return None
    begin, end = pads[:4], pads[4:]
    if begin[0] or begin[1] or end[0] or end[1]:  # batch or channels
        return None
    return [int(begin[2]), int(begin[3]), int(end[2]), int(end[3])]


def fold_pads_into_conv(model):
    """Replace each zero Pad → Conv by the Conv with the padding in its `pads`, in place.

    Returns the number replaced.
    """
    g = Graph(model.graph)
    removed, replacement = set(), {}
    for p, node in enumerate(g.nodes):
        if node.op_type != "Pad":
            continue
        c = g.only_consumer(node.output[0], "Conv")
        if c is None or g.nodes[c].input[0] != node.output[0]:
            continue
        extra = _zero_spatial_pads(g, p)
        if extra is None or g.attribute(c, "auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            continue
        conv = g.nodes[c]
        pads = np.add(g.attribute(c, "pads", [0, 0, 0, 0]), extra).tolist()
        attributes = {a.name: attribute_value(a) for a in conv.attribute if a.name != "pads"}
        attributes.pop("auto_pad", None)
        removed.add(p)
        replacement[c] = make_node(
            "Conv",
            [node.input[0], *conv.input[1:]],
            list(conv.output),
            name=conv.name,
            pads=pads,
            **attributes,
        )
    if replacement:
        g.rebuild(removed, replacement)
    return len(replacement)
