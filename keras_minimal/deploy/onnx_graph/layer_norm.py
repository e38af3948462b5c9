"""Keras' LayerNormalization reaches ONNX as thirteen elementwise and reduction nodes
(mean, x - mean squared, mean, + ε, Sqrt, Reciprocal, ·γ, x·k + (β - mean·k)); one
`LayerNormalization` (opset ≥ 17) computes the same over the last axis. ConvNeXt normalises
the channels of NCHW activations: before the NHWC Transpose of its MLP, the normalisation
moves after that Transpose; elsewhere (stem, downsampling) it runs between two Transposes,
as PyTorch exports timm's LayerNorm2d.
"""

import numpy as np

from keras_minimal.deploy.onnx_graph.graph import (
    TO_NCHW,
    TO_NHWC,
    Graph,
    has_op,
    inferred_shapes,
    opset_of,
    other_input,
)
from keras_minimal.deploy.onnx_graph.proto import from_array, make_node

LAYER_NORMALIZATION_OPSET = 17


def _reduced_axis(g, i, rank):
    """The one axis that ReduceMean i averages over (keeping it), as a non-negative int."""
    axes = g.attribute(i, "axes")
    if axes is None and len(g.nodes[i].input) > 1:
        value = g.constants.get(g.nodes[i].input[1])
        axes = None if value is None else value.tolist()
    if axes is None or len(axes) != 1 or not g.attribute(i, "keepdims", 1):
        return None
    return axes[0] % rank


def _single(g, name, op_type):
    return g.only_consumer(name, op_type)


def _times_gamma(g, inv_std):
    """(node, γ) of the node that scales 1/σ by γ: Mul by a constant, or, for γ = 1, the
    Expand that tf2onnx writes instead."""
    k = _single(g, inv_std, "Mul")
    if k is not None:
        gamma = g.constants.get(other_input(g.nodes[k], inv_std))
        return (k, gamma) if gamma is not None else (None, None)
    k = _single(g, inv_std, "Expand")
    shape = None if k is None else g.constants.get(g.nodes[k].input[1])
    if shape is None:
        return None, None
    return k, np.ones([int(d) for d in shape], "float32")


def _match(g, m, rank):
    """The nodes, x, axis, ε, γ, β and output of the LayerNorm whose mean is ReduceMean m."""
    node = g.nodes[m]
    x, mean = node.input[0], node.output[0]
    axis = _reduced_axis(g, m, rank)
    users = sorted(g.nodes[u].op_type for u in g.consumers.get(mean, []))
    if axis is None or users != ["Neg", "Sub"]:
        return None
    neg, sub = (
        next(u for u in g.consumers[mean] if g.nodes[u].op_type == op) for op in ("Neg", "Sub")
    )
    if list(g.nodes[sub].input) != [x, mean]:
        return None
    square = _single(g, g.nodes[sub].output[0], "Mul")
    if square is None or set(g.nodes[square].input) != {g.nodes[sub].output[0]}:
        return None
    variance = _single(g, g.nodes[square].output[0], "ReduceMean")
    if variance is None or _reduced_axis(g, variance, rank) != axis:
        return None
    plus_eps = _single(g, g.nodes[variance].output[0], "Add")
    if plus_eps is None:
        return None
    eps_name = other_input(g.nodes[plus_eps], g.nodes[variance].output[0])
    eps = g.constants.get(eps_name)
    if eps is None or eps.size != 1:
        return None
    sqrt = _single(g, g.nodes[plus_eps].output[0], "Sqrt")
    reciprocal = sqrt is not None and _single(g, g.nodes[sqrt].output[0], "Reciprocal")
    if not reciprocal:
        return None
    k, gamma = _times_gamma(g, g.nodes[reciprocal].output[0])
    if k is None:
        return None
    k_out = g.nodes[k].output[0]
    muls = g.consumers.get(k_out, [])
    if len(muls) != 2 or any(g.nodes[u].op_type != "Mul" for u in muls):
        return None
    scaled = next((u for u in muls if other_input(g.nodes[u], k_out) == x), None)
    shifted = next(
        (u for u in muls if other_input(g.nodes[u], k_out) == g.nodes[neg].output[0]), None
    )
    if scaled is None or shifted is None:
        return None
    nodes = [m, neg, sub, square, variance, plus_eps, sqrt, reciprocal, k, scaled, shifted]
    last = _single(g, g.nodes[shifted].output[0], "Add")
    if last is None:
        return None
    beta = None
    if other_input(g.nodes[last], g.nodes[shifted].output[0]) != g.nodes[scaled].output[0]:
        beta = g.constants.get(other_input(g.nodes[last], g.nodes[shifted].output[0]))
        nodes.append(last)
        last = _single(g, g.nodes[last].output[0], "Add")
        if beta is None or last is None:
            return None
        if other_input(g.nodes[last], g.nodes[nodes[-1]].output[0]) != g.nodes[scaled].output[0]:
            return None
    if _single(g, g.nodes[scaled].output[0], "Add") != last:
        return None
    nodes.append(last)
    return nodes, x, axis, float(eps.item()), gamma, beta


def _per_channel(value, channels):
    if value is None:
        return np.zeros(channels, "float32")
    return np.broadcast_to(value.reshape(-1) if value.size == channels else value, channels)


def fuse_layer_norm(model):
    """Replace each LayerNorm pattern over the channel axis by `LayerNormalization`, in place.

    Returns the number replaced; opsets below 17 are left as they are.
    """
    if opset_of(model) < LAYER_NORMALIZATION_OPSET:
        return 0
    if not has_op(model, "ReduceMean"):
        return 0
    shapes = inferred_shapes(model)
    g = Graph(model.graph)
    removed, replacement, new_initializers = set(), {}, []
    for m, node in enumerate(g.nodes):
        if node.op_type != "ReduceMean" or m in removed:
            continue
        shape = shapes.get(node.input[0])
        if shape is None:
            continue
        found = _match(g, m, len(shape))
        if found is None:
            continue
        nodes, x, axis, eps, gamma, beta = found
        channels = shape[axis]
        if not isinstance(channels, int) or gamma.size not in (1, channels):
            continue
        last_axis = axis == len(shape) - 1
        if not (last_axis or (axis == 1 and len(shape) == 4)):
            continue
        name = g.nodes[nodes[-1]].name or g.nodes[nodes[-1]].output[0]
        new_initializers += [
            from_array(_per_channel(gamma, channels).astype("float32"), f"{name}/gamma"),
            from_array(_per_channel(beta, channels).astype("float32"), f"{name}/beta"),
        ]
        output = g.nodes[nodes[-1]].output[0]

        def norm(source, target, name=name, eps=eps):
            return make_node(
                "LayerNormalization",
                [source, f"{name}/gamma", f"{name}/beta"],
                [target],
                name=f"{name}/LayerNormalization",
                axis=-1,
                epsilon=eps,
            )

        last = nodes[-1]
        if last_axis:
            new = [norm(x, output)]
        else:
            after = g.only_consumer(output, "Transpose")
            if after is not None and g.attribute(after, "perm") == TO_NHWC:
                # Normalise over C, then NCHW → NHWC = NCHW → NHWC, then over the last axis.
                nodes.append(after)
                last = after
                new = [
                    make_node("Transpose", [x], [f"{name}/nhwc"], perm=TO_NHWC),
                    norm(f"{name}/nhwc", g.nodes[after].output[0]),
                ]
            else:
                new = [
                    make_node("Transpose", [x], [f"{name}/nhwc"], perm=TO_NHWC),
                    norm(f"{name}/nhwc", f"{name}/normalized"),
                    make_node("Transpose", [f"{name}/normalized"], [output], perm=TO_NCHW),
                ]
        removed.update(nodes)
        replacement[last] = new
    if replacement:
        g.rebuild(removed - set(replacement), replacement, new_initializers)
    return len(replacement)
