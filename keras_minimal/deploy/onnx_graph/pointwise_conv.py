"""A Dense layer on the channel axis (VanillaNet's 1×1 convolutions) reaches ONNX as
Transpose → Reshape → MatMul → Reshape → (Add bias) → Transpose between NCHW convolutions;
one 1×1 `Conv` computes the same without moving the activations twice."""

import numpy as np

from keras_minimal.deploy.onnx_graph.graph import TO_NCHW, TO_NHWC, Graph, other_input
from keras_minimal.deploy.onnx_graph.proto import from_array, make_node


def pointwise_matmuls_to_conv(model):
    """Replace each NCHW→NHWC, Reshape, MatMul(W), Reshape, [+ b], [ReLU], →NCHW chain by a
    1×1 Conv [and ReLU].

    Returns the number replaced.
    """
    g = Graph(model.graph)
    removed, replacement, new_initializers, replaced = set(), {}, [], 0
    for t1, node in enumerate(g.nodes):
        if node.op_type != "Transpose" or g.attribute(t1, "perm") != TO_NHWC:
            continue
        r1 = g.only_consumer(node.output[0], "Reshape")
        if r1 is None:
            continue
        matmul = g.only_consumer(g.nodes[r1].output[0], "MatMul")
        if matmul is None or g.nodes[matmul].input[1] not in g.initializers:
            continue
        kernel = g.constants[g.nodes[matmul].input[1]]
        r2 = g.only_consumer(g.nodes[matmul].output[0], "Reshape")
        if r2 is None or kernel.ndim != 2:
            continue
        chain, bias = [t1, r1, matmul, r2], []
        add = g.only_consumer(g.nodes[r2].output[0], "Add")
        if add is not None:
            b = other_input(g.nodes[add], g.nodes[r2].output[0])
            if g.constants.get(b) is not None and g.constants[b].shape == kernel.shape[1:]:
                chain.append(add)
                bias = [b]
        # Without a pool after it (stride-1 stages), tf2onnx moves the next ReLU before the
        # Transpose; a ReLU is the same in either layout, so it follows the Conv.
        relu = g.only_consumer(g.nodes[chain[-1]].output[0], "Relu")
        t2 = g.only_consumer(g.nodes[chain[-1] if relu is None else relu].output[0], "Transpose")
        if t2 is None or g.attribute(t2, "perm") != TO_NCHW:
            continue
        weights_name = f"{g.nodes[matmul].input[1]}/conv1x1"
        new_initializers.append(
            from_array(np.ascontiguousarray(kernel.T[:, :, None, None]), weights_name)
        )
        removed.update(chain)
        replaced += 1
        conv_name = f"{g.nodes[matmul].name}/Conv1x1"
        conv_output = g.nodes[t2].output[0] if relu is None else f"{conv_name}:0"
        conv = make_node(
            "Conv",
            [node.input[0], weights_name, *bias],
            [conv_output],
            name=conv_name,
            kernel_shape=[1, 1],
        )
        if relu is None:
            replacement[t2] = conv
        else:
            replacement[relu] = conv
            replacement[t2] = make_node(
                "Relu", [conv_output], [g.nodes[t2].output[0]], name=f"{conv_name}/Relu"
            )
    if replacement:
        g.rebuild(removed, replacement, new_initializers)
    return replaced
