"""Keras' hard-sigmoid, relu6(x + 3) / 6 (PP-LCNet's squeeze-excite gate), reaches ONNX as
Add, Clip and Mul (or Div); one `HardSigmoid` (α = 1/6, β = 1/2) computes the same, as
PyTorch exports nn.Hardsigmoid."""

from keras_minimal.deploy.onnx_graph.graph import Graph, has_op, inferred_shapes, other_input
from keras_minimal.deploy.onnx_graph.proto import make_node


def _is_sixth(g, i, name):
    node = g.nodes[i]
    if node.op_type == "Mul":
        return g.is_scalar(other_input(node, name), 1.0 / 6.0)
    return node.op_type == "Div" and node.input[0] == name and g.is_scalar(node.input[1], 6.0)


def _shifted_input(g, clip, shapes):
    """(x, Add node) when the Clip reads x + 3 (and the 3 adds no axes), else (None, None)."""
    shifted = g.plus_three(clip.input[0])
    if shifted is None:
        return None, None
    x, a = shifted
    # A (1, 1, 1, 1) constant broadcast onto (N, C) would have made the result 4-D.
    before, after = shapes.get(x), shapes.get(clip.input[0])
    if before is None or after is None or len(before) != len(after):
        return None, None
    return x, a


def fuse_hard_sigmoid(model):
    """Replace each clip(x + 3, 0, 6) / 6 by HardSigmoid(x; 1/6, 1/2), and each remaining
    clip(z, 0, 6) / 6 (the + 3 already in a bias) by HardSigmoid(z; 1/6, 0), in place.

    Returns the count.
    """
    if not has_op(model, "Clip"):
        return 0
    shapes = inferred_shapes(model)
    g = Graph(model.graph)
    removed, replacement = set(), {}
    for c, clip in enumerate(g.nodes):
        if not g.is_relu6(clip):
            continue
        users = g.consumers.get(clip.output[0], [])
        if (
            len(users) != 1
            or clip.output[0] in g.outputs
            or not _is_sixth(g, users[0], clip.output[0])
        ):
            continue
        x, a = _shifted_input(g, clip, shapes)
        s = users[0]
        removed.update(i for i in (a, c) if i is not None)
        replacement[s] = make_node(
            "HardSigmoid",
            [clip.input[0] if x is None else x],
            [g.nodes[s].output[0]],
            name=f"{g.nodes[s].name}/HardSigmoid",
            alpha=1.0 / 6.0,
            beta=0.0 if x is None else 0.5,
        )
    if replacement:
        g.rebuild(removed, replacement)
    return len(replacement)
