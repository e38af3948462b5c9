"""to_deploy(model): a NEW inference model with everything foldable folded."""

from keras_minimal import model_families
from keras_minimal.deploy import convnext, nfnet, pplcnet, vanillanet
from keras_minimal.deploy.precision import check_not_quantized

# family → (check that the model can be fused, write fused weights into a deploy-form twin)
_CONVERTERS = {
    "vanillanet": (vanillanet.check_fusable, vanillanet.fuse_into),
    "convnext": (convnext.check_fusable, convnext.fuse_into),
    "pplcnet": (pplcnet.check_fusable, pplcnet.fuse_into),
    "nfnet": (nfnet.check_fusable, nfnet.fuse_into),
}


def to_deploy(model):
    """Return a new, fused inference model; `model` is left untouched.

    VanillaNet: BatchNorms folded into their convolutions, each 1×1 pair (and the
    stem, and the classifier pair) merged into one convolution, the series
    activations' BatchNorm folded into their depthwise kernels — the official
    `switch_to_deploy`. Needs λ = 1 (raises ValueError otherwise).
    PP-LCNet: every BatchNorm folded into the convolution before it.
    ConvNeXt: the same weights in a graph without stochastic-depth layers.
    NFNet: every weight-standardised convolution (WSConv2D) becomes a plain Conv2D whose
    kernel is the standardised kernel times its gain, so nothing is recomputed per call.
    """
    family = model_families.require_family(model, "to_deploy", _CONVERTERS)
    check_not_quantized(model, "to_deploy")
    check, fuse_into = _CONVERTERS[family.name]
    if model.builder_config.get("deploy"):
        copy = model_families.rebuild(model)
        copy.set_weights(model.get_weights())
        return copy
    check(model)
    return fuse_into(model, model_families.rebuild(model, deploy=True))
