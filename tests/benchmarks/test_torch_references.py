"""The torch references of the benchmarks export as PyTorch users export them."""

import collections

import numpy as np
import pytest

from keras_minimal.applications import NFNet
from keras_minimal.applications.nfnet.variants import TEST_CONFIG
from keras_minimal.layers import WSConv2D

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")

from benchmarks.torch_references import (  # noqa: E402
    export_reference_onnx,
    reference_as_module,
)
from tests.helpers import assert_matches_reference  # noqa: E402
from tests.torch_reference import nfnet_torch, random_reference_state, run_torch  # noqa: E402


def _basic_optimized(path, optimized_path):
    """The graph onnxruntime runs after its basic (constant-folding) optimisations."""
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(optimized_path)
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session, onnx.load(optimized_path)


def test_nfnet_exports_one_conv_per_convolution_with_weights_onnxruntime_folds(tmp_path):
    # As timm's dm_nfnet_f0 (81 Conv): grouped convolutions are one Conv with `group`, the SE
    # layers 1×1 Convs; the weight standardisation is in the file, and onnxruntime folds it.
    side = 64
    model = NFNet(
        **TEST_CONFIG, classes=10, include_preprocessing=False, input_shape=(side, side, 3)
    )
    state = random_reference_state(model)
    path = tmp_path / "reference.onnx"
    export_reference_onnx(
        reference_as_module(nfnet_torch, state), torch.zeros(1, 3, side, side), str(path)
    )
    ws_convs = [layer for layer in model.layers if isinstance(layer, WSConv2D)]
    blocks = sum(TEST_CONFIG["depths"])
    expected_convs = len(ws_convs) + 2 * blocks
    expected_groups = sorted(layer.groups for layer in ws_convs if layer.groups > 1)
    assert expected_groups  # the tiny model has grouped convolutions to check

    session, optimized = _basic_optimized(path, tmp_path / "optimized.onnx")
    for graph in (onnx.load(path).graph, optimized.graph):
        convs = [node for node in graph.node if node.op_type == "Conv"]
        groups = [a.i for node in convs for a in node.attribute if a.name == "group" and a.i > 1]
        assert len(convs) == expected_convs
        assert sorted(groups) == expected_groups
    constants = {tensor.name for tensor in optimized.graph.initializer}
    assert all(
        node.input[1] in constants for node in optimized.graph.node if node.op_type == "Conv"
    )
    counts = collections.Counter(node.op_type for node in optimized.graph.node)
    assert counts["ReduceMean"] == blocks + 1  # the SE squeezes and the head's pool only

    x = np.random.default_rng(0).normal(size=(1, side, side, 3)).astype("float32")
    (logits,) = session.run(None, {"x": np.ascontiguousarray(x.transpose(0, 3, 1, 2))})
    assert_matches_reference(logits, run_torch(nfnet_torch, state, x), rtol=1e-5)
