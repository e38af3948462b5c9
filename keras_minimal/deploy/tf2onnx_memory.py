"""Keras' ONNX export (tf2onnx on TensorFlow) without a copy of the weights per optimiser pass.

After each of its optimiser passes, tf2onnx rewrites every node's protobuf in place
(`del node.attribute[:]`, then `extend`). Under protobuf's upb backend (protobuf >= 4) a
message's arena keeps what is removed from it until the message itself is freed, so each
pass leaves another copy of every constant behind; tf2onnx also deep-copies the whole graph
before each pass, and the copies, being cyclic, wait for the garbage collector's oldest
generation. Keras' export of NFNet-F0 (273 MB of weights) peaked at 13 GB of memory (a
process exporting it twice was killed for memory on a 24 GB machine). Inside
`bounded_tf2onnx_memory()` each node's protobuf is rebuilt in a new message, so that the
old one and its arena are freed, and the garbage is collected after each pass: the same
ONNX graph, and a peak set by TensorFlow's own Grappler pass (NFNet-F0: 7 GB; through
export(), verification included, 14 → 9 GB).
"""

import contextlib
import gc


def _update_proto_in_new_message(update_proto, node_proto):
    def update(node, external_tensor_storage=None):
        stale = getattr(node, "_op", None)
        if isinstance(stale, node_proto):
            del stale.attribute[:]  # rewritten below; not worth copying
            fresh = node_proto()
            fresh.CopyFrom(stale)
            node._op = fresh
        return update_proto(node, external_tensor_storage)

    return update


def _collect_after(optimize):
    def optimize_then_collect(optimizer, graph, iteration):
        try:
            return optimize(optimizer, graph, iteration)
        finally:
            gc.collect()

    return optimize_then_collect


@contextlib.contextmanager
def bounded_tf2onnx_memory():
    """Run Keras' ONNX export inside this to bound tf2onnx's memory (see the module)."""
    try:
        from onnx import NodeProto
        from tf2onnx.graph import Node
        from tf2onnx.optimizer.optimizer_base import GraphOptimizerBase
    except ImportError:  # Keras' export names the missing package itself
        yield
        return
    update_proto, optimize = Node.update_proto, GraphOptimizerBase.optimize
    Node.update_proto = _update_proto_in_new_message(update_proto, NodeProto)
    GraphOptimizerBase.optimize = _collect_after(optimize)
    try:
        yield
    finally:
        Node.update_proto, GraphOptimizerBase.optimize = update_proto, optimize
