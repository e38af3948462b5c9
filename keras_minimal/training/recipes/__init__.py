"""The papers' training recipes as data, one module per family."""

import dataclasses

from keras_minimal.training.recipes import convnext, nfnet, pplcnet, vanillanet
from keras_minimal.training.recipes.overrides import apply_overrides, resolve_recipe
from keras_minimal.training.recipes.quantize_aware import quantize_aware_recipe
from keras_minimal.training.recipes.schema import Recipe

RECIPES = {**vanillanet.RECIPES, **convnext.RECIPES, **nfnet.RECIPES, **pplcnet.RECIPES}


def get_recipe(model_name):
    """The published recipe of a registered model, or ValueError listing those that have one."""
    if model_name not in RECIPES:
        raise ValueError(
            f"No published training recipe for {model_name!r}. Models with one: "
            f"{', '.join(sorted(RECIPES))}. Pass your own hyper-parameters instead."
        )
    return RECIPES[model_name]


EVALUATION_FIELDS = ("eval_image_size", "crop_pct", "crop_mode", "interpolation")


def evaluation_settings(model_name):
    """How a model is evaluated: its recipe's size, crop_pct, crop_mode and interpolation,
    or timm's defaults (224, 0.875, center, bicubic) for a model without a recipe."""
    if model_name in RECIPES:
        return {field: getattr(RECIPES[model_name], field) for field in EVALUATION_FIELDS}
    return {f.name: f.default for f in dataclasses.fields(Recipe) if f.name in EVALUATION_FIELDS}


__all__ = [
    "RECIPES",
    "Recipe",
    "apply_overrides",
    "evaluation_settings",
    "get_recipe",
    "quantize_aware_recipe",
    "resolve_recipe",
]
