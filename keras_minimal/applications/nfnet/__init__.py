"""NFNet: builder, variants table and reference-checkpoint mapping."""

from keras_minimal.applications.backbone import variant_constructor
from keras_minimal.applications.imagenet_classes import decode_predictions
from keras_minimal.applications.nfnet.model import NFNet, NFNetModel
from keras_minimal.applications.nfnet.variants import CHANNELS, VARIANTS
from keras_minimal.applications.preprocessing import preprocess_input


def _constructor(registry_name):
    variant = VARIANTS[registry_name]
    return variant_constructor(
        NFNet,
        registry_name,
        variant.constructor_name,
        variant.config,
        f"{variant.constructor_name} (Brock et al. 2021): depths={list(variant.depths)}, "
        f"channels={list(CHANNELS)}; trained at {variant.train_image_size}², evaluated at "
        f"{variant.test_image_size}², dropout {variant.drop_rate}.",
    )


NFNetF0 = _constructor("nfnet_f0")
NFNetF1 = _constructor("nfnet_f1")
NFNetF2 = _constructor("nfnet_f2")
NFNetF3 = _constructor("nfnet_f3")
NFNetF4 = _constructor("nfnet_f4")
NFNetF5 = _constructor("nfnet_f5")
NFNetF6 = _constructor("nfnet_f6")
NFNetF7 = _constructor("nfnet_f7")

CONSTRUCTORS = {name: globals()[variant.constructor_name] for name, variant in VARIANTS.items()}

__all__ = [
    "CONSTRUCTORS",
    "decode_predictions",
    "preprocess_input",
    "NFNet",
    "NFNetModel",
    *(variant.constructor_name for variant in VARIANTS.values()),
]
