"""Recipe overrides from the command line: "learning_rate=1e-3,epochs=10,randaugment=none"."""

import dataclasses
import json

from keras_minimal.training.recipes.schema import Recipe

_NONE = ("none", "null")


def _convert(field, text):
    if text.lower() in _NONE:
        return None
    # str() names optional fields too: "float | None" has no __name__.
    kind = str(field.type)
    if "bool" in kind:
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"{field.name} takes true/false. Received: {field.name}={text!r}")
        return text.lower() in ("true", "1")
    if "Mapping" in kind:
        return json.loads(text)
    number = int if "int" in kind and "float" not in kind else float if "float" in kind else None
    if number is None:
        return text
    try:
        return number(text)
    except ValueError:
        raise ValueError(
            f"{field.name} takes {'an integer' if number is int else 'a number'}"
            f"{' or none' if 'None' in kind else ''}. Received: {field.name}={text!r}"
        ) from None


def parse_overrides(text):
    """ "a=1,b=x" → {"a": "1", "b": "x"} (values stay text; model_kwargs take JSON)."""
    pairs = {}
    if not text:
        return pairs
    for item in _split(text):
        if "=" not in item:
            raise ValueError(
                f"Recipe overrides are key=value pairs separated by commas. Received: {item!r}"
            )
        key, value = item.split("=", 1)
        pairs[key.strip()] = value.strip()
    return pairs


def _split(text):
    """Split on commas outside braces (model_kwargs={"drop_rate": 0.1, ...})."""
    items, depth, current = [], 0, ""
    for char in text:
        depth += char == "{"
        depth -= char == "}"
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        items.append(current)
    return items


def apply_overrides(recipe, overrides):
    """A new Recipe with fields replaced; `overrides` is a dict or the "k=v,..." text."""
    if isinstance(overrides, str):
        overrides = parse_overrides(overrides)
    fields = {f.name: f for f in dataclasses.fields(Recipe)}
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise ValueError(f"Unknown recipe field(s) {unknown}. Fields: {', '.join(sorted(fields))}.")
    values = {
        key: _convert(fields[key], value) if isinstance(value, str) else value
        for key, value in overrides.items()
    }
    # A shorter or longer run keeps λ's schedule as the same fraction of training
    # (VanillaNet: 100 of 300 epochs) unless it is given explicitly.
    if (
        "epochs" in values
        and "deep_training_epochs" not in values
        and recipe.deep_training_epochs is not None
    ):
        fraction = recipe.deep_training_epochs / recipe.epochs
        values["deep_training_epochs"] = max(1, round(fraction * values["epochs"]))
    return dataclasses.replace(recipe, **values)


def resolve_recipe(spec, model_name, recipes):
    """The recipe a command line asks for.

    spec: "paper" (the model's published recipe), a recipe name ("vanillanet_5"), either
    followed by ",key=value,...", or only "key=value,..." (the paper recipe overridden).
    """
    head, _, tail = spec.partition(",")
    if "=" in head:
        head, tail = "paper", spec
    name = model_name if head == "paper" else head
    if name not in recipes:
        where = f"model {model_name!r} has no published recipe" if head == "paper" else ""
        raise ValueError(
            f"Unknown recipe {head!r}{' (' + where + ')' if where else ''}. Choose 'paper' for "
            f"a model that has one, or a recipe name: {', '.join(sorted(recipes))}; add "
            "',key=value' overrides."
        )
    return apply_overrides(recipes[name], tail)
