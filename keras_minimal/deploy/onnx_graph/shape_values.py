"""What is known of the shape arithmetic that tf2onnx writes for a dynamic batch.

A value here is a 0-d or 1-d numpy object array of ints, with None for an entry that is
only known at run time (the batch). Shape → Gather → Cast → ReduceProd → Unsqueeze → Concat
chains keep every entry that does not depend on the batch.
"""

import numpy as np

from keras_minimal.deploy.onnx_graph.graph import Graph


def _known(values):
    return np.asarray(values, dtype=object)


def _product(values):
    if any(v is None for v in values.ravel()):
        return None
    return int(np.prod(values.astype("int64")))


def _shape(g, i, shapes):
    dims = shapes.get(g.nodes[i].input[0])
    if dims is None:
        return None
    start, end = g.attribute(i, "start", 0), g.attribute(i, "end", len(dims))
    return _known([d if isinstance(d, int) and d > 0 else None for d in dims][start:end])


def _gather(g, i, values):
    data, indices = values(g.nodes[i].input[0]), g.constants.get(g.nodes[i].input[1])
    if data is None or indices is None or data.ndim != 1 or g.attribute(i, "axis", 0) != 0:
        return None
    return data[np.asarray(indices, "int64")]


def _concat(g, i, values):
    parts = [values(name) for name in g.nodes[i].input]
    if any(part is None or part.ndim != 1 for part in parts):
        return None
    return np.concatenate(parts)


def _unsqueeze(g, i, values):
    data, axes = values(g.nodes[i].input[0]), g.constants.get(g.nodes[i].input[1])
    if data is None or data.ndim != 0 or axes is None or list(np.ravel(axes)) not in ([0], [-1]):
        return None
    return data.reshape(1)


def _reduce_prod(g, i, values):
    data = values(g.nodes[i].input[0])
    if data is None or data.ndim != 1 or len(g.nodes[i].input) > 1:
        return None
    product = _known(_product(data))
    return product.reshape(1) if g.attribute(i, "keepdims", 1) else product


def _cast(g, i, values):
    return values(g.nodes[i].input[0])


_RULES = {
    "Shape": None,  # reads the inferred shape, not a value
    "Gather": _gather,
    "Concat": _concat,
    "Unsqueeze": _unsqueeze,
    "ReduceProd": _reduce_prod,
    "Cast": _cast,
}


def shape_values(g: Graph, shapes):
    """name → partially known value, for the outputs of shape arithmetic in `g`."""
    partial = {}

    def values(name):
        if name in partial:
            return partial[name]
        constant = g.constants.get(name)
        if constant is not None and constant.ndim <= 1 and constant.dtype.kind in "iu":
            return _known(constant.tolist())
        return None

    for i, node in enumerate(g.nodes):
        if node.op_type not in _RULES:
            continue
        value = (
            _shape(g, i, shapes) if node.op_type == "Shape" else _RULES[node.op_type](g, i, values)
        )
        if value is not None:
            partial[node.output[0]] = value
    return partial


def reshape_target(value):
    """A constant Reshape target for a partially known one: its one unknown entry becomes -1.
    None when two or more entries are unknown (or one is, next to a -1 already)."""
    if value is None or value.ndim != 1:
        return None
    unknown = [v is None for v in value]
    if sum(unknown) > 1 or (any(unknown) and -1 in [v for v in value if v is not None]):
        return None
    return np.array([-1 if v is None else v for v in value], "int64")
