"""An index over an ONNX GraphProto that the rewrites share: producers, consumers, constants."""

import numpy as np

from keras_minimal.deploy.onnx_graph.proto import attribute_value, copy_node, infer_shapes, to_array

TO_NHWC, TO_NCHW = [0, 2, 3, 1], [0, 3, 1, 2]


class Graph:
    """Index of a GraphProto's nodes by position (protobuf gives new wrappers on each access)."""

    def __init__(self, graph):
        self.graph = graph
        self.nodes = list(graph.node)
        self.initializers = {t.name: t for t in graph.initializer}
        self.constants = {name: to_array(t) for name, t in self.initializers.items()}
        for node in self.nodes:
            if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
                self.constants[node.output[0]] = to_array(node.attribute[0].t)
        self.producer = {out: i for i, node in enumerate(self.nodes) for out in node.output}
        self.consumers = {}
        for i, node in enumerate(self.nodes):
            for name in dict.fromkeys(node.input):  # x · x is one consumer of x
                self.consumers.setdefault(name, []).append(i)
        self.outputs = {output.name for output in graph.output}

    def only_consumer(self, name, op_type):
        users = self.consumers.get(name, [])
        if name in self.outputs or len(users) != 1:
            return None
        return users[0] if self.nodes[users[0]].op_type == op_type else None

    def producer_of(self, name, op_type):
        i = self.producer.get(name)
        return i if i is not None and self.nodes[i].op_type == op_type else None

    def is_scalar(self, name, value):
        array = self.constants.get(name)
        return array is not None and array.size == 1 and np.isclose(array.item(), value, rtol=1e-6)

    def is_relu6(self, node):
        """Whether `node` clips to [0, 6] (relu6 as tf2onnx writes it)."""
        return (
            node.op_type == "Clip"
            and len(node.input) == 3
            and self.is_scalar(node.input[1], 0.0)
            and self.is_scalar(node.input[2], 6.0)
        )

    def plus_three(self, name):
        """(x, the Add's index) when `name` is x + 3 and only one node reads it, else None."""
        a = self.producer_of(name, "Add")
        if a is None or len(self.consumers[name]) != 1:
            return None
        three = [n for n in self.nodes[a].input if self.is_scalar(n, 3.0)]
        if len(three) != 1:
            return None
        return other_input(self.nodes[a], three[0]), a

    def attribute(self, i, name, default=None):
        found = [a for a in self.nodes[i].attribute if a.name == name]
        return attribute_value(found[0]) if found else default

    def rebuild(self, removed, replacement, new_initializers=()):
        """Drop `removed`, put replacement[i] (a node or a list of nodes) in place of node i,
        then drop what is unused."""
        kept = []
        for i, node in enumerate(self.nodes):
            if i in replacement:
                new = replacement[i]
                kept.extend(new if isinstance(new, list) else [new])
            elif i not in removed:
                kept.append(copy_node(node))  # detached: the graph's nodes are cleared below
        del self.graph.node[:]
        self.graph.node.extend(_without_dead_nodes(kept, self.graph))
        self.graph.initializer.extend(new_initializers)
        used = {name for node in self.graph.node for name in node.input}
        used.update(output.name for output in self.graph.output)
        initializers = [t for t in self.graph.initializer if t.name in used]
        del self.graph.initializer[:]
        self.graph.initializer.extend(initializers)


def _without_dead_nodes(nodes, graph):
    """Nodes whose outputs something still reads (e.g. a dropped Reshape's shape arithmetic)."""
    needed = {output.name for output in graph.output}
    alive = []
    for node in reversed(nodes):
        if any(name in needed for name in node.output):
            alive.append(node)
            needed.update(node.input)
    return alive[::-1]


def other_input(node, name):
    return node.input[1] if node.input[0] == name else node.input[0]


def opset_of(model):
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def has_op(model, *op_types):
    """Whether any node of `model` is one of `op_types` (shape inference is worth running)."""
    return any(node.op_type in op_types for node in model.graph.node)


def inferred_shapes(model):
    """name → list of dims (an int, or the symbol's name for an unknown one)."""
    inferred = infer_shapes(model)
    shapes = {}
    for info in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        if not info.type.tensor_type.HasField("shape"):
            continue
        dims = info.type.tensor_type.shape.dim
        shapes[info.name] = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in dims]
    return shapes
