"""The rewritten graphs of each family: the same outputs as tf2onnx's graph in onnxruntime
(random non-zero weights), and the operators a PyTorch export of the architecture has."""

import keras
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("tf2onnx")

from keras_minimal.applications import ConvNeXt, NFNet, PPLCNet  # noqa: E402
from keras_minimal.applications.convnext.variants import TEST_CONFIG as CONVNEXT_CONFIG  # noqa: E402
from keras_minimal.applications.nfnet.variants import TEST_CONFIG as NFNET_CONFIG  # noqa: E402
from keras_minimal.deploy.onnx_graph.pipeline import rewrite_model  # noqa: E402
from tests.deploy.onnx_graph.graphs import (  # noqa: E402
    assert_same_outputs,
    images,
    is_tensorflow,
    op_counts,
    optimized_by_onnxruntime,
    randomize_weights,
    rewritten,
    tf2onnx_graph,
)

pytestmark = pytest.mark.skipif(not is_tensorflow(), reason="export goes through tf2onnx")
SIDE = 64
SHAPE_ARITHMETIC = ("Shape", "Gather", "Cast", "Concat", "Split", "Reshape", "Unsqueeze")


def _conv_layers(model):
    convolutions = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)
    return [layer for layer in model.layers if isinstance(layer, convolutions)]


def _readers_of_image(model):
    return [node.op_type for node in model.graph.node if "image" in node.input]


def _clean_graph(model, tmp_path, batch_size):
    original = tf2onnx_graph(randomize_weights(model), tmp_path / "model.onnx", batch_size)
    new, _ = rewritten(original, rewrite_model)
    # The preprocessing multiply-add runs on the NCHW image, after the input's Transpose.
    assert _readers_of_image(original) == ["Mul"] and _readers_of_image(new) == ["Transpose"]
    for batch in (1, 2) if batch_size is None else (batch_size,):
        assert_same_outputs(original, new, images(batch, SIDE))
    return op_counts(original), op_counts(new), optimized_by_onnxruntime(new, tmp_path)


@pytest.mark.parametrize("batch_size", [1, None])
def test_nfnet(tmp_path, batch_size):
    model = NFNet(
        **NFNET_CONFIG, classes=10, classifier_activation=None, input_shape=(SIDE,) * 2 + (3,)
    )
    before, after, fused = _clean_graph(model, tmp_path, batch_size)
    se_dense = [layer for layer in model.layers if "_se_fc" in layer.name]
    assert len(se_dense) == 10
    # One Conv per convolution layer (grouped ones included) and per squeeze-excite Dense.
    assert before["Conv"] > after["Conv"] == len(_conv_layers(model)) + len(se_dense)
    assert after["Transpose"] == 1  # the NHWC input, once
    assert after["MatMul"] + after["Gemm"] == 1  # the classifier
    assert [after[op] for op in SHAPE_ARITHMETIC] == [0] * len(SHAPE_ARITHMETIC)
    assert fused["Gelu"] == before["Erf"] > 0 and fused["Erf"] == 0  # every GELU one kernel


@pytest.mark.parametrize("batch_size", [1, None])
def test_pplcnet(tmp_path, batch_size):
    model = PPLCNet(0.5, classes=10, classifier_activation=None, input_shape=(SIDE,) * 2 + (3,))
    before, after, _ = _clean_graph(model, tmp_path, batch_size)
    assert before["Pad"] == 4 and after["Pad"] == 0  # the four stride-2 depthwise convolutions
    se_dense = [layer for layer in model.layers if "_se_conv" in layer.name]
    assert len(se_dense) == 4
    assert after["Conv"] == len(_conv_layers(model)) + len(se_dense)
    assert after["HardSwish"] == 28
    assert after["HardSigmoid"] == 2 and after["Clip"] == 0  # the squeeze-excite gates
    assert after["Transpose"] == 1
    assert after["MatMul"] + after["Gemm"] == 1  # the classifier
    # Only the flatten before the classifier reshapes.
    assert after["Reshape"] + after["Flatten"] + after["Squeeze"] == 1


@pytest.mark.parametrize("batch_size", [1, None])
def test_convnext(tmp_path, batch_size):
    model = ConvNeXt(
        **CONVNEXT_CONFIG, classes=10, classifier_activation=None, input_shape=(SIDE,) * 2 + (3,)
    )
    before, after, fused = _clean_graph(model, tmp_path, batch_size)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.LayerNormalization)]
    blocks = sum(CONVNEXT_CONFIG["depths"])
    assert after["LayerNormalization"] == len(norms) and after["ReduceMean"] == 0
    assert [after[op] for op in SHAPE_ARITHMETIC] == [0] * len(SHAPE_ARITHMETIC)  # MLP: MatMul
    # The input's, each block's pair around its MLP (as timm's), and a pair around each
    # LayerNorm of NCHW activations outside the blocks (stem, downsampling), as timm's
    # LayerNorm2d exports.
    outside_blocks = len(norms) - blocks - 1  # the head's normalises pooled (N, C) vectors
    assert after["Transpose"] == 1 + 2 * blocks + 2 * outside_blocks
    assert fused["Gelu"] + fused["BiasGelu"] == before["Erf"] == blocks and fused["Erf"] == 0
