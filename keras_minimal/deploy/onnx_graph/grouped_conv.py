"""Keras' TensorFlow backend runs a grouped convolution as one convolution per group, and
tf2onnx writes it as Split → a Conv per group → Concat (through NHWC Transposes around the
Split). One `Conv` with `group` computes the same in one pass over the activations."""

import numpy as np

from keras_minimal.deploy.onnx_graph.graph import TO_NCHW, TO_NHWC, Graph
from keras_minimal.deploy.onnx_graph.proto import attribute_value, from_array, make_node

_CHANNEL_AXIS = {"nchw": (1, -3), "nhwc": (3, -1)}


def _split_feeding(g, conv):
    """(split index, its output name, layout of the split) that feeds Conv `conv`, or None."""
    source = g.nodes[conv].input[0]
    layout = "nchw"
    t = g.producer_of(source, "Transpose")
    if t is not None and g.attribute(t, "perm") == TO_NCHW:
        if len(g.consumers[source]) != 1:
            return None
        source, layout = g.nodes[t].input[0], "nhwc"
    s = g.producer_of(source, "Split")
    if s is None or len(g.consumers.get(source, [])) != 1:
        return None
    return s, source, layout


def _input_of_split(g, s, layout):
    """The NCHW tensor that Split `s` cuts on the channel axis, or None."""
    if g.attribute(s, "axis", 0) not in _CHANNEL_AXIS[layout]:
        return None
    source = g.nodes[s].input[0]
    if layout == "nchw":
        return source
    t = g.producer_of(source, "Transpose")
    if t is None or g.attribute(t, "perm") != TO_NHWC:
        return None
    return g.nodes[t].input[0]


def _same_convolution(g, convs):
    first = {a.name: attribute_value(a) for a in g.nodes[convs[0]].attribute}
    if first.get("group", 1) != 1:
        return None
    for c in convs[1:]:
        if {a.name: attribute_value(a) for a in g.nodes[c].attribute} != first:
            return None
    return first


def _group_members(g, concat):
    """The per-group Convs of Concat `concat`, in order, with the Split and its NCHW input."""
    if g.attribute(concat, "axis") not in (1, -3):
        return None
    convs = [g.producer_of(name, "Conv") for name in g.nodes[concat].input]
    if len(convs) < 2 or None in convs:
        return None
    if any(len(g.consumers[g.nodes[c].output[0]]) != 1 for c in convs):
        return None
    fed = [_split_feeding(g, c) for c in convs]
    if None in fed or len({(s, layout) for s, _, layout in fed}) != 1:
        return None
    s, layout = fed[0][0], fed[0][2]
    # Group k reads the Split's k-th output, so the weights concatenate in Concat order.
    if [name for _, name, _ in fed] != list(g.nodes[s].output):
        return None
    x = _input_of_split(g, s, layout)
    if x is None:
        return None
    kernels = [g.constants.get(g.nodes[c].input[1]) for c in convs]
    if any(k is None or k.shape != kernels[0].shape for k in kernels):
        return None
    if len(g.nodes[s].input) > 1:  # explicit sizes: each must be one group's input channels
        sizes = g.constants.get(g.nodes[s].input[1])
        if sizes is None or any(int(size) != kernels[0].shape[1] for size in sizes):
            return None
    biases = [g.nodes[c].input[2] if len(g.nodes[c].input) > 2 else None for c in convs]
    if len(set(b is None for b in biases)) != 1:
        return None
    if biases[0] is not None and any(b not in g.constants for b in biases):
        return None
    return convs, x, kernels, biases


def merge_grouped_convolutions(model):
    """Replace each Split → Conv per group → Concat by one Conv with `group`, in place.

    Returns the number replaced.
    """
    g = Graph(model.graph)
    removed, replacement, new_initializers = set(), {}, []
    for concat, node in enumerate(g.nodes):
        if node.op_type != "Concat":
            continue
        members = _group_members(g, concat)
        if members is None:
            continue
        convs, x, kernels, biases = members
        attributes = _same_convolution(g, convs)
        if attributes is None:
            continue
        name = f"{g.nodes[convs[0]].name}/grouped"
        new_initializers.append(from_array(np.concatenate(kernels), f"{name}/W"))
        inputs = [x, f"{name}/W"]
        if biases[0] is not None:
            bias = np.concatenate([g.constants[b] for b in biases])
            new_initializers.append(from_array(bias, f"{name}/B"))
            inputs.append(f"{name}/B")
        attributes["group"] = len(convs)
        removed.update(convs)
        replacement[concat] = make_node("Conv", inputs, [node.output[0]], name=name, **attributes)
    if replacement:
        g.rebuild(removed, replacement, new_initializers)
    return len(replacement)
