"""One registry of model names (timm style, "vanillanet_13") → constructors."""

_MODELS = {}


def register_model(name, constructor):
    if name in _MODELS:
        raise ValueError(f"A model named {name!r} is already registered.")
    _MODELS[name] = constructor
    return constructor


def list_models(pattern=None):
    """Sorted registered names, optionally filtered by a substring."""
    names = sorted(_MODELS)
    if pattern:
        names = [n for n in names if pattern in n]
    return names


def create_model(name, **kwargs):
    """Build a registered model by name, e.g. create_model("vanillanet_5", classes=10)."""
    if name not in _MODELS:
        raise ValueError(f"Unknown model name {name!r}. Choose one of: {', '.join(list_models())}.")
    return _MODELS[name](**kwargs)
