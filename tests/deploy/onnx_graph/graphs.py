"""Helpers of the ONNX rewrite tests: run a graph in onnxruntime, export tf2onnx's raw graph
of a Keras model, count operators."""

import collections
import copy

import keras
import numpy as np
import onnx
import onnxruntime as ort
import tensorflow as tf
from onnx import TensorProto, helper, numpy_helper

from keras_minimal.deploy import to_deploy

OPSET = 17


def make_model(nodes, inputs, outputs, initializers, opset=OPSET):
    """A checked ModelProto; inputs/outputs are (name, shape) pairs of float32 tensors."""
    graph = helper.make_graph(
        nodes,
        "test",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in initializers.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    return model


def run(model, x):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def op_counts(model):
    return collections.Counter(node.op_type for node in model.graph.node)


def transposes_feeding(model, op_type):
    """How many inputs of `op_type` nodes a Transpose produces."""
    transposed = {n.output[0] for n in model.graph.node if n.op_type == "Transpose"}
    nodes = [n for n in model.graph.node if n.op_type == op_type]
    return sum(name in transposed for n in nodes for name in n.input)


def rewritten(model, rewrite):
    """(a rewritten copy of `model`, the number of patterns `rewrite` replaced)."""
    copied = copy.deepcopy(model)
    count = rewrite(copied)
    onnx.checker.check_model(copied, full_check=True)
    return copied, count


def assert_same_outputs(original, new, x, rtol=1e-5):
    """The rewritten graph computes what the original does, to `rtol` of the largest output."""
    expected, actual = run(original, x), run(new, x)
    assert actual.shape == expected.shape
    scale = np.abs(expected).max()
    assert scale > 0
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale)


def randomize_weights(model, seed=0, scale=0.2):
    """Non-zero weights everywhere (zero-initialised gains and biases would hide a rewrite's
    mistakes: tf2onnx drops an Add of zeros, and a zero skip gain cuts a residual branch)."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        if "moving_variance" in variable.path:
            variable.assign(rng.uniform(0.5, 1.5, variable.shape).astype("float32"))
        else:
            variable.assign(rng.normal(0, scale, variable.shape).astype("float32"))
    return model


def tf2onnx_graph(model, path, batch_size=1):
    """What tf2onnx writes for the deploy form of `model`, before any rewrite of ours."""
    model = to_deploy(model)
    signature = [tf.TensorSpec((batch_size, *model.input.shape[1:]), tf.float32, name="image")]
    model.export(
        str(path), format="onnx", input_signature=signature, verbose=False, opset_version=OPSET
    )
    return onnx.load(str(path))


def images(batch_size, side, seed=0):
    shape = (batch_size, side, side, 3)
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


def is_tensorflow():
    return keras.backend.backend() == "tensorflow"


def optimized_by_onnxruntime(model, tmp_path):
    """The operators onnxruntime runs for `model` after its graph optimisations (fusions)."""
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return op_counts(onnx.load(options.optimized_model_filepath))
