"""The exact GELU in the form onnxruntime fuses into one kernel.

tf2onnx writes 0.5·x·(1 + erf(x·(1/√2))) as Mul(x, 1/√2) → Erf → Add(1) and Mul(0.5, x) →
Mul, which onnxruntime's GeluFusion does not recognise; it fuses x·(1 + erf(x / √2))·0.5
written as Div(x, √2) → Erf → Add(·, 1) → Mul(x, ·) → Mul(·, 0.5). NFNet's scaled GELU,
γ·GELU(x), keeps its γ as one Mul after the fused form. (Opset 20 has a Gelu operator; the
export's opset is 17.)
"""

import numpy as np

from keras_minimal.deploy.onnx_graph.graph import Graph, other_input
from keras_minimal.deploy.onnx_graph.proto import from_array, make_node

_SQRT_2 = float(np.sqrt(2.0))


def _erf_argument(g, e):
    """x when Erf e reads x/√2 (as Mul by 1/√2 or Div by √2), else None."""
    s = g.producer.get(g.nodes[e].input[0])
    if s is None or len(g.consumers[g.nodes[e].input[0]]) != 1:
        return None, None
    node = g.nodes[s]
    if node.op_type == "Mul":
        for name in node.input:
            if g.is_scalar(name, 1.0 / _SQRT_2):
                return other_input(node, name), s
    if node.op_type == "Div" and g.is_scalar(node.input[1], _SQRT_2):
        return node.input[0], s
    return None, None


def _scalar_factor(g, mul, name):
    """The other operand of Mul `mul` when it is a scalar constant, else None."""
    other = other_input(g.nodes[mul], name)
    value = g.constants.get(other)
    return other if value is not None and value.size == 1 else None


def _gelu_at(g, e):
    """(x, nodes of the pattern, output name, scale constant or None) for the GELU whose
    Erf is node e, or None."""
    x, s = _erf_argument(g, e)
    if x is None:
        return None
    a = g.only_consumer(g.nodes[e].output[0], "Add")
    if a is None or not g.is_scalar(other_input(g.nodes[a], g.nodes[e].output[0]), 1.0):
        return None
    one_plus = g.nodes[a].output[0]
    nodes, scale = [s, e, a], None
    m = g.only_consumer(one_plus, "Mul")
    if m is None:
        return None
    scale = _scalar_factor(g, m, one_plus)
    if scale is not None:  # γ·(1 + erf): NFNet's scaled GELU
        nodes.append(m)
        one_plus = g.nodes[m].output[0]
        m = g.only_consumer(one_plus, "Mul")
        if m is None:
            return None
    half_x = other_input(g.nodes[m], one_plus)
    h = g.producer_of(half_x, "Mul")
    if h is None or len(g.consumers[half_x]) != 1:
        return None
    if x not in g.nodes[h].input or not g.is_scalar(other_input(g.nodes[h], x), 0.5):
        return None
    nodes += [h, m]
    return x, nodes, g.nodes[m].output[0], scale


def canonical_gelu(model):
    """Rewrite each erf-GELU into the form onnxruntime fuses, in place. Returns the count."""
    g = Graph(model.graph)
    removed, replacement, new_initializers = set(), {}, []
    constants = {"sqrt2": _SQRT_2, "one": 1.0, "half": 0.5}
    names = {key: f"gelu/{key}" for key in constants}
    for e, node in enumerate(g.nodes):
        if node.op_type != "Erf":
            continue
        found = _gelu_at(g, e)
        if found is None:
            continue
        x, nodes, output, scale = found
        base = node.name or node.output[0]
        gelu = f"{base}/gelu" if scale is not None else output
        new = [
            make_node("Div", [x, names["sqrt2"]], [f"{base}/scaled"]),
            make_node("Erf", [f"{base}/scaled"], [f"{base}/erf"]),
            make_node("Add", [f"{base}/erf", names["one"]], [f"{base}/one_plus"]),
            make_node("Mul", [x, f"{base}/one_plus"], [f"{base}/twice"]),
            make_node("Mul", [f"{base}/twice", names["half"]], [gelu]),
        ]
        if scale is not None:
            new.append(make_node("Mul", [gelu, scale], [output]))
        removed.update(nodes)
        replacement[nodes[-1]] = new
    if replacement:
        new_initializers = [
            from_array(np.array(value, "float32"), names[key])
            for key, value in constants.items()
            if names[key] not in g.initializers
        ]
        g.rebuild(removed - set(replacement), replacement, new_initializers)
    return len(replacement)
