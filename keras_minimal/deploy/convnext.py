"""ConvNeXt training graph → inference graph: the same weights without stochastic depth.

ConvNeXt has no BatchNorm to fold (its LayerNorms depend on the input), so the deploy
graph only drops the StochasticDepth layers (identities at inference anyway).
"""

from keras_minimal.deploy.layer_weights import copy_layer_weights


def check_fusable(model):
    """Every ConvNeXt can be converted."""


def fuse_into(trained, deployed):
    return copy_layer_weights(trained, deployed)
