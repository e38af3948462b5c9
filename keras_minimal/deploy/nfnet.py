"""NFNet → deploy graph: each WSConv2D becomes a GroupedConv2D with its standardised kernel."""

from keras import ops

from keras_minimal.deploy.fusion import standardize_weight
from keras_minimal.layers import WSConv2D


def check_fusable(model):
    """Any NFNet can be folded: the standardised kernels depend on the weights only."""


def fuse_into(trained, fused):
    """Write `trained`'s weights into the deploy-graph `fused`, folding weight standardisation."""
    for layer in trained.layers:
        if not layer.weights:
            continue
        target = fused.get_layer(layer.name)
        if isinstance(layer, WSConv2D):
            kernel = standardize_weight(
                ops.convert_to_numpy(layer.kernel),
                ops.convert_to_numpy(layer.gain),
                layer.epsilon,
                layer.standardization,
            )
            target.set_weights([kernel, ops.convert_to_numpy(layer.bias)])
        else:
            target.set_weights(layer.get_weights())
    return fused
