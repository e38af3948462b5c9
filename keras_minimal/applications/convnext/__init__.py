"""ConvNeXt: builder, variants table and reference-checkpoint mapping."""

from keras_minimal.applications.backbone import variant_constructor
from keras_minimal.applications.convnext.model import ConvNeXt
from keras_minimal.applications.convnext.variants import VARIANTS
from keras_minimal.applications.imagenet_classes import decode_predictions
from keras_minimal.applications.preprocessing import preprocess_input


def _constructor(registry_name):
    variant = VARIANTS[registry_name]
    recipe = (
        f"the ImageNet-1k recipe trains it with drop_path_rate={variant.recipe_drop_path_rate}"
        if variant.recipe_drop_path_rate is not None
        else "the paper trains it on ImageNet-22k only (no ImageNet-1k-only recipe)"
    )
    return variant_constructor(
        ConvNeXt,
        registry_name,
        variant.constructor_name,
        variant.config,
        f"{variant.constructor_name} (Liu et al. 2022): depths={list(variant.depths)}, "
        f"dims={list(variant.dims)}; {variant.params:,} parameters. drop_path_rate defaults "
        f"to 0; {recipe}.",
    )


ConvNeXtTiny = _constructor("convnext_tiny")
ConvNeXtSmall = _constructor("convnext_small")
ConvNeXtBase = _constructor("convnext_base")
ConvNeXtLarge = _constructor("convnext_large")
ConvNeXtXLarge = _constructor("convnext_xlarge")

CONSTRUCTORS = {name: globals()[variant.constructor_name] for name, variant in VARIANTS.items()}

__all__ = [
    "CONSTRUCTORS",
    "decode_predictions",
    "preprocess_input",
    "ConvNeXt",
    *(variant.constructor_name for variant in VARIANTS.values()),
]
