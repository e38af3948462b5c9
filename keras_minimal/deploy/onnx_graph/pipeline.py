"""The rewrites in the order they enable one another."""

from keras_minimal.deploy.onnx_graph.gelu import canonical_gelu
from keras_minimal.deploy.onnx_graph.grouped_conv import merge_grouped_convolutions
from keras_minimal.deploy.onnx_graph.hard_sigmoid import fuse_hard_sigmoid
from keras_minimal.deploy.onnx_graph.hard_swish import fuse_hard_swish
from keras_minimal.deploy.onnx_graph.input_transpose import transpose_input_first
from keras_minimal.deploy.onnx_graph.layer_norm import fuse_layer_norm
from keras_minimal.deploy.onnx_graph.pad_into_conv import fold_pads_into_conv
from keras_minimal.deploy.onnx_graph.pointwise_conv import pointwise_matmuls_to_conv
from keras_minimal.deploy.onnx_graph.squeeze_excite import squeeze_excite_in_nchw
from keras_minimal.deploy.onnx_graph.static_shapes import fold_static_shapes
from keras_minimal.deploy.onnx_graph.tensordot import matmul_without_reshapes

# Constant shapes first: the pattern rewrites match Reshapes by their constant targets.
REWRITES = (
    fold_static_shapes,
    merge_grouped_convolutions,
    fuse_hard_swish,
    pointwise_matmuls_to_conv,
    squeeze_excite_in_nchw,
    fuse_hard_sigmoid,
    fold_pads_into_conv,
    canonical_gelu,
    fuse_layer_norm,
    matmul_without_reshapes,
    transpose_input_first,
)


def rewrite_model(model):
    """Apply each rewrite to `model` in place; returns how many patterns were replaced."""
    return sum(rewrite(model) for rewrite in REWRITES)
