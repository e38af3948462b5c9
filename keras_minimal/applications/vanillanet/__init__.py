"""VanillaNet: builder, variants table and reference-checkpoint mapping."""

from keras_minimal.applications.backbone import variant_constructor
from keras_minimal.applications.imagenet_classes import decode_predictions
from keras_minimal.applications.preprocessing import preprocess_input
from keras_minimal.applications.vanillanet.model import VanillaNet, VanillaNetModel
from keras_minimal.applications.vanillanet.variants import VARIANTS


def _constructor(registry_name):
    variant = VARIANTS[registry_name]
    return variant_constructor(
        VanillaNet,
        registry_name,
        variant.constructor_name,
        variant.config,
        f"{variant.constructor_name} (Chen et al. 2023): dims={list(variant.dims)}, "
        f"strides={list(variant.strides)}; {variant.train_params:,} parameters to train, "
        f"{variant.deploy_params:,} after fusion.",
    )


VanillaNet5 = _constructor("vanillanet_5")
VanillaNet6 = _constructor("vanillanet_6")
VanillaNet7 = _constructor("vanillanet_7")
VanillaNet8 = _constructor("vanillanet_8")
VanillaNet9 = _constructor("vanillanet_9")
VanillaNet10 = _constructor("vanillanet_10")
VanillaNet11 = _constructor("vanillanet_11")
VanillaNet12 = _constructor("vanillanet_12")
VanillaNet13 = _constructor("vanillanet_13")
VanillaNet13_x1_5 = _constructor("vanillanet_13_x1_5")
VanillaNet13_x1_5_ada_pool = _constructor("vanillanet_13_x1_5_ada_pool")

CONSTRUCTORS = {name: globals()[variant.constructor_name] for name, variant in VARIANTS.items()}

__all__ = [
    "CONSTRUCTORS",
    "decode_predictions",
    "preprocess_input",
    "VanillaNet",
    "VanillaNetModel",
    *(variant.constructor_name for variant in VARIANTS.values()),
]
