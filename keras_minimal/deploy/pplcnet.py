"""PP-LCNet training graph → deploy graph: every BatchNorm folded into its convolution."""

import keras
from keras import ops

from keras_minimal.deploy.fusion import BatchNormStats, fold_batch_norm
from keras_minimal.deploy.layer_weights import copy_layer_weights


def _conv_batch_norm_pairs(model):
    """{conv layer name: its BatchNorm}: PP-LCNet names them `<unit>_conv` / `<unit>_bn`."""
    return {
        layer.name.removesuffix("_bn") + "_conv": layer
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    }


def check_fusable(model):
    """Every PP-LCNet can be folded (inference-mode BatchNorm is affine)."""


def fuse_into(trained, fused):
    """Write the folded weights of the training-graph `trained` into the deploy-graph `fused`."""
    pairs = _conv_batch_norm_pairs(trained)
    for conv_name, batch_norm in pairs.items():
        conv = trained.get_layer(conv_name)
        kernel = ops.convert_to_numpy(conv.kernel)
        bias = ops.convert_to_numpy(conv.bias) if conv.use_bias else None
        depthwise = isinstance(conv, keras.layers.DepthwiseConv2D)
        fused.get_layer(conv_name).set_weights(
            fold_batch_norm(
                kernel,
                bias,
                BatchNormStats.from_layer(batch_norm),
                channel_axis=2 if depthwise else -1,
            )
        )
    return copy_layer_weights(trained, fused, skip=set(pairs))
