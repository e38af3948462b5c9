"""PP-LCNet: builder, variants table and reference-checkpoint mapping."""

from keras_minimal.applications.backbone import variant_constructor
from keras_minimal.applications.imagenet_classes import decode_predictions
from keras_minimal.applications.pplcnet.model import PPLCNet
from keras_minimal.applications.pplcnet.variants import VARIANTS
from keras_minimal.applications.preprocessing import preprocess_input


def _constructor(registry_name):
    variant = VARIANTS[registry_name]
    return variant_constructor(
        PPLCNet,
        registry_name,
        variant.constructor_name,
        variant.config,
        f"{variant.constructor_name} (Cui et al. 2021): scale={variant.scale}; "
        f"{variant.paddle_params:,} parameters (PaddleClas layout, head_bias=False), "
        f"{variant.timm_params:,} with head_bias=True (timm layout).",
    )


PPLCNet_x0_25 = _constructor("pplcnet_x0_25")
PPLCNet_x0_35 = _constructor("pplcnet_x0_35")
PPLCNet_x0_5 = _constructor("pplcnet_x0_5")
PPLCNet_x0_75 = _constructor("pplcnet_x0_75")
PPLCNet_x1_0 = _constructor("pplcnet_x1_0")
PPLCNet_x1_5 = _constructor("pplcnet_x1_5")
PPLCNet_x2_0 = _constructor("pplcnet_x2_0")
PPLCNet_x2_5 = _constructor("pplcnet_x2_5")

CONSTRUCTORS = {name: globals()[variant.constructor_name] for name, variant in VARIANTS.items()}

__all__ = [
    "CONSTRUCTORS",
    "decode_predictions",
    "preprocess_input",
    "PPLCNet",
    *(variant.constructor_name for variant in VARIANTS.values()),
]
