"""The papers' training recipes as data, one module per family."""

from keras_minimal.training.recipes import convnext, nfnet, pplcnet, vanillanet
from keras_minimal.training.recipes.overrides import apply_overrides, resolve_recipe
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


__all__ = ["RECIPES", "Recipe", "apply_overrides", "get_recipe", "resolve_recipe"]
