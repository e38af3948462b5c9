"""One registry of model names (timm style, "vanillanet_13") → constructors."""

import fnmatch
import re

_MODELS = {}


def register_model(name, constructor):
    if name in _MODELS:
        raise ValueError(f"A model named {name!r} is already registered.")
    _MODELS[name] = constructor
    return constructor


def _natural_key(name):
    """ "vanillanet_5" before "vanillanet_10": digit runs compare as numbers (timm's order)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def list_models(pattern=None):
    """Registered names in natural order (vanillanet_5 before vanillanet_10), optionally
    filtered: a shell-style wildcard pattern as timm's list_models takes ("convnext*",
    "*x1_*"), or else a substring ("nfnet")."""
    names = sorted(_MODELS, key=_natural_key)
    if not pattern:
        return names
    if any(char in pattern for char in "*?["):
        return fnmatch.filter(names, pattern)
    return [n for n in names if pattern in n]


def create_model(name, **kwargs):
    """Build a registered model by name, e.g. create_model("vanillanet_5", classes=10)."""
    if name not in _MODELS:
        raise ValueError(f"Unknown model name {name!r}. Choose one of: {', '.join(list_models())}.")
    return _MODELS[name](**kwargs)
