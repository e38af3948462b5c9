"""The input preprocessing, x · scale + offset per RGB channel (`include_preprocessing=True`),
reaches ONNX as a Mul and an Add on the NHWC image, before the Transpose to NCHW. onnxruntime
broadcasts a constant that varies along the innermost axis 3 numbers at a time: in its profile of
PP-LCNet x1.0 (224², batch 1) the two passes took a quarter as long as all the other nodes
together, and 1/15 of that as the same operations on the NCHW image with (3, 1, 1) constants.
Elementwise operations commute with a Transpose, so the Transpose moves to the input and the
operations follow it, on the same numbers.
"""

import numpy as np

from keras_minimal.deploy.onnx_graph.graph import Graph
from keras_minimal.deploy.onnx_graph.proto import from_array, make_node

_ELEMENTWISE = {"Mul", "Add", "Sub", "Div"}


def _rank(value_info):
    tensor_type = value_info.type.tensor_type
    return len(tensor_type.shape.dim) if tensor_type.HasField("shape") else None


def _constant_operand(g, i, previous, rank):
    """(the constant input of elementwise node i, whether it comes first) when node i combines
    `previous` with a constant of at most `rank` axes; None otherwise."""
    node = g.nodes[i]
    if node.op_type not in _ELEMENTWISE:
        return None
    position = 1 - list(node.input).index(previous)
    value = g.constants.get(node.input[position])
    if value is None or value.ndim > rank:
        return None
    return value, position == 0


def _chain_to_transpose(g, start, rank):
    """([(node index, constant, constant first)], Transpose index) for the elementwise nodes from
    graph input `start` to the Transpose they all feed, or None."""
    chain, previous = [], start
    while True:
        users = g.consumers.get(previous, [])
        if len(users) != 1 or previous in g.outputs:
            return None
        i = users[0]
        if g.nodes[i].op_type == "Transpose":
            return (chain, i) if chain else None
        operand = _constant_operand(g, i, previous, rank)
        if operand is None:
            return None
        chain.append((i, *operand))
        previous = g.nodes[i].output[0]


def _transposed(value, rank, perm):
    """The constant that broadcasts onto the transposed tensor as `value` did onto the original."""
    aligned = value.reshape((1,) * (rank - value.ndim) + value.shape)
    return np.ascontiguousarray(np.transpose(aligned, perm))


def transpose_input_first(model):
    """Move each graph input's Transpose before the elementwise operations with constants that
    lead to it, in place. Returns the number of inputs rewritten."""
    g = Graph(model.graph)
    removed, replacement, new_initializers = set(), {}, []
    for graph_input in model.graph.input:
        rank = _rank(graph_input)
        if rank is None or graph_input.name in g.constants:  # an initializer listed as input
            continue
        found = _chain_to_transpose(g, graph_input.name, rank)
        if found is None:
            continue
        chain, t = found
        transpose = g.nodes[t]
        perm = g.attribute(t, "perm", list(range(rank))[::-1])
        current = f"{graph_input.name}/transposed"
        nodes = [
            make_node("Transpose", [graph_input.name], [current], name=transpose.name, perm=perm)
        ]
        for position, (i, value, constant_first) in enumerate(chain):
            node = g.nodes[i]
            constant = f"{node.output[0]}/operand_transposed"
            new_initializers.append(from_array(_transposed(value, rank, perm), constant))
            last = position == len(chain) - 1
            output = transpose.output[0] if last else f"{node.output[0]}/transposed"
            inputs = [constant, current] if constant_first else [current, constant]
            nodes.append(make_node(node.op_type, inputs, [output], name=node.name))
            current = output
            removed.add(i)
        replacement[t] = nodes
    if replacement:
        g.rebuild(removed, replacement, new_initializers)
    return len(replacement)
