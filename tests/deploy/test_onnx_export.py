"""model.export(format="onnx") of ConvNeXt, PP-LCNet and NFNet runs in onnxruntime.

TensorFlow backend only (Keras exports through tf2onnx there). The ConvNeXt check matters:
Keras' own exact GELU lowers to Erfc, which tf2onnx cannot convert even though the export
does not raise; our ExactGELU is written with Erf. NFNet adds grouped convolutions, which
Keras' TensorFlow backend runs through XLA (untranslatable) unless GroupedConv2D splits them.
"""

import keras
import numpy as np
import pytest

from keras_minimal.applications import ConvNeXt, ConvNeXtTiny, NFNet, PPLCNet_x1_0
from keras_minimal.applications.convnext.variants import TEST_CONFIG
from keras_minimal.applications.nfnet.variants import TEST_CONFIG as NFNET_TEST_CONFIG
from keras_minimal.deploy import to_deploy
from tests.helpers import DATA, assert_matches_reference, randomize_batch_norms

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
pytest.importorskip("tf2onnx")
pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="ONNX export goes through tf2onnx"
)

SIDE = 64


def _images():
    return np.random.default_rng(0).uniform(0, 255, (2, SIDE, SIDE, 3)).astype("float32")


def _export_and_run(model, tmp_path):
    x = _images()
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    path = str(tmp_path / "model.onnx")
    model.export(path, format="onnx", verbose=False)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {session.get_inputs()[0].name: x})
    assert_matches_reference(output, expected)
    return {node.op_type for node in onnx.load(path).graph.node}


@pytest.mark.slow
def test_convnext_tiny(tmp_path):
    ops = _export_and_run(
        ConvNeXtTiny(input_shape=(SIDE, SIDE, 3), classifier_activation=None), tmp_path
    )
    assert "Erf" in ops and "Erfc" not in ops


@pytest.mark.slow
def test_pplcnet_x1_0_training_and_deploy_graphs(tmp_path):
    model = randomize_batch_norms(
        PPLCNet_x1_0(input_shape=(SIDE, SIDE, 3), classifier_activation=None)
    )
    _export_and_run(model, tmp_path)
    ops = _export_and_run(to_deploy(model), tmp_path)
    assert "BatchNormalization" not in ops


def test_convnext_deploy_graph(tmp_path):
    model = ConvNeXt(
        TEST_CONFIG["depths"],
        TEST_CONFIG["dims"],
        input_shape=(SIDE, SIDE, 3),
        classes=10,
        classifier_activation=None,
    )
    _export_and_run(to_deploy(model), tmp_path)


def test_nfnet_training_and_deploy_graphs_with_grouped_convolutions(tmp_path):
    model = NFNet(
        **NFNET_TEST_CONFIG,
        input_shape=(SIDE, SIDE, 3),
        classes=10,
        classifier_activation=None,
    )
    for graph in (model, to_deploy(model)):
        ops = _export_and_run(graph, tmp_path)
        assert "Erf" in ops and "Erfc" not in ops


def test_nfnet_with_deepmind_s_weights_and_numerics_exports_folded(tmp_path):
    # DeepMind's tiny Haiku model (tests/data), folded with DeepMind's ε and exported: the
    # ONNX graph gives DeepMind's own logits, with the tanh GELU (no Erf).
    with np.load(DATA / "nfnet_haiku_tiny_case.npz") as case:
        inputs, logits = case["input"], case["out/logits"]
    model = NFNet(
        [1, 1, 2, 1],
        [256, 64, 96, 96],
        group_size=8,
        reference="deepmind",
        classes=10,
        classifier_activation=None,
        include_preprocessing=False,
        input_shape=inputs.shape[1:],
        weights=str(DATA / "nfnet_haiku_tiny.npz"),
    )
    fused = to_deploy(model)
    assert_matches_reference(fused(inputs, training=False), logits)  # export needs a call
    path = str(tmp_path / "model.onnx")
    fused.export(path, format="onnx", verbose=False)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {session.get_inputs()[0].name: inputs})
    assert_matches_reference(output, logits)
    ops = {node.op_type for node in onnx.load(path).graph.node}
    assert "Tanh" in ops and "Erf" not in ops
