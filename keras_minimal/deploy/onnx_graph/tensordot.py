"""A Dense layer on the last axis of a 4-D tensor reaches ONNX as Reshape to rows → MatMul →
Reshape back (TensorFlow's Tensordot); ONNX MatMul broadcasts over the leading axes, so one
MatMul on the 4-D tensor computes the same (ConvNeXt's MLP, as PyTorch exports nn.Linear)."""

from keras_minimal.deploy.onnx_graph.graph import Graph, has_op, inferred_shapes
from keras_minimal.deploy.onnx_graph.proto import copy_node


def _is_known(dim):
    return isinstance(dim, int) and dim > 0


def _rows_of(g, r1, shape):
    """Reshape r1 turns `shape` (..., C) into rows (M, C)."""
    target = g.constants.get(g.nodes[r1].input[1])
    return (
        target is not None
        and target.shape == (2,)
        and _is_known(shape[-1])
        and int(target[1]) == shape[-1]
    )


def _back_to(g, r2, shape, units):
    """Reshape r2 turns rows (M, units) into shape[:-1] + (units,)."""
    target = g.constants.get(g.nodes[r2].input[1])
    if target is None or target.shape != (len(shape),) or int(target[-1]) != units:
        return False
    middle = shape[1:-1]
    if not all(_is_known(d) for d in middle) or list(target[1:-1]) != middle:
        return False
    return int(target[0]) in (-1, 0) or target[0] == shape[0]


def matmul_without_reshapes(model):
    """Replace each Reshape → MatMul(W) → Reshape on the last axis by one MatMul, in place.

    Returns the number replaced.
    """
    if not has_op(model, "MatMul"):
        return 0
    shapes = inferred_shapes(model)
    g = Graph(model.graph)
    removed, replacement = set(), {}
    for r1, node in enumerate(g.nodes):
        if node.op_type != "Reshape" or node.input[1] not in g.constants:
            continue
        shape = shapes.get(node.input[0])
        if shape is None or len(shape) < 3 or not _rows_of(g, r1, shape):
            continue
        m = g.only_consumer(node.output[0], "MatMul")
        if m is None or g.nodes[m].input[0] != node.output[0]:
            continue
        kernel = g.constants.get(g.nodes[m].input[1])
        if kernel is None or kernel.ndim != 2:
            continue
        r2 = g.only_consumer(g.nodes[m].output[0], "Reshape")
        if r2 is None or not _back_to(g, r2, shape, kernel.shape[1]):
            continue
        removed.update((r1, m))
        matmul = g.nodes[m]
        replacement[r2] = copy_node(matmul)
        replacement[r2].input[0] = node.input[0]
        replacement[r2].output[0] = g.nodes[r2].output[0]
    if replacement:
        g.rebuild(removed, replacement)
    return len(replacement)
