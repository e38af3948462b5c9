"""tf2onnx computes the target of a Reshape at run time (Shape → Gather → Cast → Concat)
whenever the batch is dynamic, even though every other dimension is known. ONNX shape
inference knows them too: each such Reshape gets a constant target ([-1, d1, ...] for a
dynamic batch), a Reshape that changes nothing goes, and whatever depends only on constants
is computed once here instead of at every call."""

import numpy as np

from keras_minimal.deploy.onnx_graph.graph import Graph, has_op, inferred_shapes, opset_of
from keras_minimal.deploy.onnx_graph.proto import evaluate_node, from_array
from keras_minimal.deploy.onnx_graph.shape_values import reshape_target, shape_values

# Operators whose value is not a function of their inputs alone.
_NOT_FOLDABLE = {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike"}
_NOT_FOLDABLE |= {"Multinomial", "Bernoulli", "Constant"}
# A folded result larger than this (and than its inputs) stays computed: folding must not
# grow the file (an Expand of a scalar to a feature map's size, say).
_MAX_GROWTH = 1024


def _is_no_op_reshape(g, node, shapes):
    """A Reshape to the shape its input has (the batch, if unknown, is the one entry left)."""
    before, target = shapes.get(node.input[0]), g.constants.get(node.input[1])
    if (
        before is None
        or target is None
        or len(before) != target.size
        or node.output[0] in g.outputs
    ):
        return False
    rest = before[1:]
    if not all(isinstance(d, int) and d > 0 for d in rest) or list(target[1:]) != rest:
        return False
    return target[0] in (-1, 0) or target[0] == before[0]


def fold_static_shapes(model):
    """Give each Reshape a constant target, drop the Reshapes that change nothing, and fold
    every node whose inputs are all constants, in place.

    Returns the number of nodes replaced or removed.
    """
    shapes = inferred_shapes(model) if has_op(model, "Reshape", "Shape") else {}
    g = Graph(model.graph)
    partial = shape_values(g, shapes)
    changed, removed, renamed = 0, set(), {}
    for i, node in enumerate(g.nodes):
        for k, name in enumerate(node.input):
            node.input[k] = renamed.get(name, name)
        if node.op_type == "Shape" and all(
            v is not None for v in partial.get(node.output[0], [None])
        ):
            g.constants[node.output[0]] = partial[node.output[0]].astype("int64")
            removed.add(i)
            changed += 1
            continue
        if node.op_type == "Reshape" and node.input[1] not in g.constants:
            target = reshape_target(partial.get(node.input[1]))
            if target is not None:
                g.constants[f"{node.input[1]}/static"] = target
                node.input[1] = f"{node.input[1]}/static"
                changed += 1
        if node.op_type == "Reshape" and _is_no_op_reshape(g, node, shapes):
            renamed[node.output[0]] = node.input[0]
            removed.add(i)
            changed += 1
            continue
        inputs = [name for name in node.input if name]
        if node.op_type in _NOT_FOLDABLE or node.domain not in ("", "ai.onnx") or not inputs:
            continue
        if all(name in g.constants for name in inputs):
            values = [np.asarray(v) for v in evaluate_node(node, g.constants, opset_of(model))]
            size_in = sum(g.constants[name].size for name in inputs)
            if sum(v.size for v in values) > max(size_in, _MAX_GROWTH):
                continue
            g.constants.update(zip(node.output, values, strict=True))
            removed.add(i)
            changed += 1
    if changed:
        kept = [node for i, node in enumerate(g.nodes) if i not in removed]
        produced = {name for node in kept for name in node.output}
        read = {name for node in kept for name in node.input} | g.outputs
        new_initializers = [
            from_array(g.constants[name], name)
            for name in sorted(read - produced - set(g.initializers))
            if name in g.constants
        ]
        g.rebuild(removed, {}, new_initializers)
    return changed
