"""A squeeze-excite gate computed in NCHW with 1×1 Convs, as PyTorch exports it.

tf2onnx writes it from the pooled NCHW vector: Reshape/Squeeze to (N, C), MatMul/Gemm (+ bias)
per Dense, elementwise activations, a Reshape to NHWC (N, 1, 1, C), and the product with the
feature map between two layout Transposes. A (N, C, 1, 1) tensor holds the same numbers as
(N, C) and (N, 1, 1, C), so the gate becomes GlobalAveragePool → Conv 1×1 → ... → Mul on the
NCHW feature map: no Reshape, no Transpose.
"""

import numpy as np

from keras_minimal.deploy.onnx_graph.graph import (
    TO_NCHW,
    TO_NHWC,
    Graph,
    inferred_shapes,
    other_input,
)
from keras_minimal.deploy.onnx_graph.proto import from_array, make_node

_ELEMENTWISE = {"Relu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Erf", "Clip"}
_SCALAR_OPERAND = {"Mul", "Div", "Add", "Sub"}
_RESHAPES = {"Reshape", "Squeeze", "Unsqueeze", "Flatten"}


class _Chain:
    """The NCHW nodes that replace a gate chain, built while walking it."""

    def __init__(self, g, start, channels):
        self.g, self.channels = g, channels
        self.previous = start  # the original graph's tensor reached so far
        self.current = start  # the tensor that holds its numbers in NCHW
        self.nodes, self.initializers, self.removed = [], [], []
        self.last_conv = None  # a Conv just made, whose bias a following Add can become

    def constant(self, name, value):
        self.initializers.append(from_array(value.astype("float32"), name))
        return name

    def add_conv(self, i, kernel, bias):
        name = self.g.nodes[i].name or self.g.nodes[i].output[0]
        inputs = [self.current, self.constant(f"{name}/W1x1", kernel.T[:, :, None, None].copy())]
        if bias is not None:
            inputs.append(self.constant(f"{name}/B1x1", np.broadcast_to(bias, kernel.shape[1:])))
        self.emit(i, make_node("Conv", inputs, [], name=f"{name}/Conv1x1", kernel_shape=[1, 1]))
        self.last_conv, self.channels = self.nodes[-1], kernel.shape[1]

    def emit(self, i, node):
        output = f"{self.g.nodes[i].output[0]}/nchw"
        node.output.append(output)
        self.nodes.append(node)
        self.removed.append(i)
        self.current, self.last_conv = output, None


def _vector_bias(g, name, channels):
    """A constant that adds per channel (shape (C,), (1, C) or (1, 1, 1, C)) as a (C,) array."""
    value = g.constants.get(name)
    if value is None or channels is None or value.size != channels:
        return None
    if value.ndim and value.shape[-1] != channels:
        return None
    return value.reshape(channels)


def _keeps_samples(g, i, channels):
    """Reshape-like node i keeps the batch axis and each sample's `channels` numbers."""
    node = g.nodes[i]
    if node.op_type == "Flatten":
        return g.attribute(i, "axis", 1) == 1
    operand = g.constants.get(node.input[1]) if len(node.input) > 1 else None
    if node.op_type == "Reshape":
        if operand is None or operand.ndim != 1 or operand.size < 2:
            return False
        rest = [int(d) for d in operand[1:]]  # the first entry is then the batch
        return min(rest) > 0 and int(np.prod(rest)) == channels
    axes = operand if operand is not None else g.attribute(i, "axes")
    return axes is not None and 0 not in [int(a) for a in np.ravel(axes)]


def _step(chain, i):
    """Translate node i of the chain; False when it is not a per-sample vector operation."""
    g, node = chain.g, chain.g.nodes[i]
    op = node.op_type
    if op in _RESHAPES:  # (N, C), (N, C, 1, 1) and (N, 1, 1, C) hold the same numbers
        if not _keeps_samples(g, i, chain.channels):
            return False
        chain.removed.append(i)
        return True
    if node.input[0] != chain.previous and op in ("MatMul", "Gemm"):
        return False
    kernel = g.constants.get(node.input[1]) if op in ("MatMul", "Gemm") else None
    if kernel is not None and (kernel.ndim != 2 or chain.channels not in kernel.shape):
        return False
    if op == "MatMul" and kernel is not None and kernel.shape[0] == chain.channels:
        chain.add_conv(i, kernel, None)
        return True
    if op == "Gemm" and kernel is not None:
        if g.attribute(i, "transA", 0) or g.attribute(i, "alpha", 1.0) != 1.0:
            return False
        if g.attribute(i, "beta", 1.0) != 1.0:
            return False
        kernel = kernel.T if g.attribute(i, "transB", 0) else kernel
        if kernel.shape[0] != chain.channels:
            return False
        bias = None
        if len(node.input) > 2:
            bias = g.constants.get(node.input[2])
            if bias is None or bias.size not in (1, kernel.shape[1]):
                return False
        chain.add_conv(i, kernel, bias)
        return True
    if op in _ELEMENTWISE and all(name in g.constants for name in node.input[1:]):
        chain.emit(i, make_node(op, [chain.current, *node.input[1:]], [], name=node.name))
        _copy_attributes(node, chain.nodes[-1])
        return True
    if op in _SCALAR_OPERAND:
        other = other_input(node, chain.previous)
        value = g.constants.get(other)
        if value is None:
            return False
        first = node.input[0] == chain.previous
        if value.size == 1:
            inputs = [chain.current, other] if first else [other, chain.current]
            chain.emit(i, make_node(op, inputs, [], name=node.name))
            return True
        bias = _vector_bias(g, other, chain.channels)
        if op != "Add" or bias is None:
            return False
        if chain.last_conv is not None and len(chain.last_conv.input) == 2:
            name = chain.constant(f"{node.name or node.output[0]}/B1x1", bias)
            chain.last_conv.input.append(name)
            chain.removed.append(i)
            return True
        name = chain.constant(f"{node.name or node.output[0]}/B", bias[:, None, None])
        chain.emit(i, make_node("Add", [chain.current, name], [], name=node.name))
        return True
    return False


def _copy_attributes(source, target):
    target.attribute.extend(source.attribute)


def _feature_map_product(g, mul, gate):
    """(NCHW feature map, index of the node whose output the product becomes) for the Mul
    that applies the gate, or None when it is not a per-channel product."""
    x = other_input(g.nodes[mul], gate)
    t1 = g.producer_of(x, "Transpose")
    if t1 is not None and g.attribute(t1, "perm") == TO_NHWC:
        t2 = g.only_consumer(g.nodes[mul].output[0], "Transpose")
        if t2 is None or g.attribute(t2, "perm") != TO_NCHW:
            return None
        return g.nodes[t1].input[0], t2
    return None


def squeeze_excite_in_nchw(model):
    """Rewrite each pooled-vector gate chain in NCHW, in place. Returns the number rewritten."""
    shapes = inferred_shapes(model)
    g = Graph(model.graph)
    removed, replacement, new_initializers, rewritten = set(), {}, [], 0
    for node in g.nodes:
        pooled = shapes.get(node.output[0])
        if node.op_type != "GlobalAveragePool" or pooled is None or len(pooled) != 4:
            continue
        if not isinstance(pooled[1], int) or pooled[1] <= 0:
            continue
        chain = _Chain(g, node.output[0], pooled[1])
        i = _single_consumer(g, chain.previous)
        while i is not None and not _applies_gate(g, i, chain.previous):
            if not _step(chain, i):
                break
            chain.previous = g.nodes[i].output[0]
            i = _single_consumer(g, chain.previous)
        if i is None or not _applies_gate(g, i, chain.previous) or not chain.nodes:
            continue
        found = _feature_map_product(g, i, chain.previous)
        if found is None:
            continue
        x, last = found
        product = make_node(
            "Mul", [x, chain.current], [g.nodes[last].output[0]], name=g.nodes[i].name
        )
        removed.update(chain.removed)
        removed.add(i)
        replacement[last] = [*chain.nodes, product]
        new_initializers.extend(chain.initializers)
        rewritten += 1
    if replacement:
        g.rebuild(removed, replacement, new_initializers)
    return rewritten


def _single_consumer(g, name):
    users = g.consumers.get(name, [])
    return users[0] if len(users) == 1 and name not in g.outputs else None


def _applies_gate(g, i, previous):
    """Node i multiplies the gate with a tensor computed at run time (the feature map)."""
    return g.nodes[i].op_type == "Mul" and other_input(g.nodes[i], previous) not in g.constants
