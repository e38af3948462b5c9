"""bounded_tf2onnx_memory: tf2onnx's optimiser passes no longer keep a copy of every weight
each, and the exported graph computes the same numbers."""

import collections
import contextlib
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_minimal.applications import NFNet
from keras_minimal.applications.nfnet.variants import TEST_CONFIG
from keras_minimal.deploy.tf2onnx_memory import bounded_tf2onnx_memory
from tests.tools.tool_process import run_python

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
tf2onnx = pytest.importorskip("tf2onnx")
pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="Keras exports ONNX through tf2onnx there"
)

CONSTANT_BYTES = 16 * 2**20

# tf2onnx's optimiser loop over a graph that adds one 16 MB constant four times; prints the
# growth of the process' anonymous memory during the loop, at its peak, in multiples of the
# constant's size. Sampled during the loop, not read from ru_maxrss: Linux carries a parent's
# peak over fork and exec, so under a large pytest process ru_maxrss was 11 GB before the loop.
_OPTIMIZE_GRAPH = textwrap.dedent(
    f"""
    import contextlib, re, sys, threading, time
    import numpy as np
    from tf2onnx.graph import Graph
    from tf2onnx.optimizer import optimize_graph
    from keras_minimal.deploy.tf2onnx_memory import bounded_tf2onnx_memory

    size = {CONSTANT_BYTES} // 4
    graph = Graph([], opset=17)
    graph.add_graph_input("x", 1, [size])
    weights = graph.make_const("weights", np.ones(size, np.float32))
    x = graph.make_node("Identity", ["x"])
    for _ in range(4):
        x = graph.make_node("Add", [x.output[0], weights.output[0]])
    graph.add_graph_output(x.output[0], 1, [size])
    def anonymous():
        status = open("/proc/self/status").read()
        return int(re.search(r"RssAnon:\\s+(\\d+) kB", status).group(1)) * 1024

    before = peak = anonymous()
    running = True

    def sample():
        global peak
        while running:
            peak = max(peak, anonymous())
            time.sleep(0.001)

    sampler = threading.Thread(target=sample)
    sampler.start()
    bounded = sys.argv[1] == "bounded"
    with bounded_tf2onnx_memory() if bounded else contextlib.nullcontext():
        optimize_graph(graph)
    running = False
    sampler.join()
    peak = max(peak, anonymous())
    print((peak - before) / {CONSTANT_BYTES})
    """
)


def _peak_growth(mode):
    result = run_python("-c", _OPTIMIZE_GRAPH, mode, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return float(result.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_optimizer_passes_do_not_keep_a_copy_of_the_weights_each():
    unbounded, bounded = _peak_growth("plain"), _peak_growth("bounded")
    # tf2onnx as it is: one more copy of the constant per pass, 36 on this graph (protobuf's
    # upb arenas; if this fails, tf2onnx or protobuf no longer leaks and the fix can go).
    assert unbounded > 20, unbounded
    # Bounded: the graph's numpy value, its tensor proto, a pass's graph copy, the model.
    assert bounded < 12, bounded


def test_the_exported_graph_computes_the_same(tmp_path):
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = NFNet(**TEST_CONFIG, input_shape=(32, 32, 3), classes=10)
    signature = [tf.TensorSpec((2, 32, 32, 3), tf.float32, name="image")]
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    outputs, op_types = [], []
    for bounded in (False, True):
        path = str(tmp_path / f"bounded_{bounded}.onnx")
        with bounded_tf2onnx_memory() if bounded else contextlib.nullcontext():
            model.export(path, format="onnx", input_signature=signature, verbose=False)
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        outputs.append(session.run(None, {"image": images})[0])
        op_types.append(collections.Counter(n.op_type for n in onnx.load(path).graph.node))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert op_types[0] == op_types[1]


def test_tf2onnx_is_restored_after_the_export_even_when_it_raises():
    from tf2onnx.graph import Node
    from tf2onnx.optimizer.optimizer_base import GraphOptimizerBase

    originals = Node.update_proto, GraphOptimizerBase.optimize
    with pytest.raises(RuntimeError, match="conversion failed"):
        with bounded_tf2onnx_memory():
            assert (Node.update_proto, GraphOptimizerBase.optimize) != originals
            raise RuntimeError("conversion failed")
    assert (Node.update_proto, GraphOptimizerBase.optimize) == originals
