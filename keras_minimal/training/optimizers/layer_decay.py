"""Layer-wise learning-rate decay: which layer id each variable belongs to, per family.

VanillaNet (official optim_factory.get_num_layer_for_vanillanet + main.py): stem → 0,
stages.i → i + 1, the classifier (cls1/cls2) → num_layers + 1; the multiplier of id i is
layer_decay ** (num_layers + 1 − i), so the classifier trains at the full rate and the
stem at layer_decay ** (num_layers + 1).
"""

import re


def vanillanet_layer_id(layer_name, num_layers):
    if layer_name.startswith("stem"):
        return 0
    match = re.match(r"stages_(\d+)_", layer_name)
    if match:
        return int(match.group(1)) + 1
    if layer_name.startswith("cls") or layer_name == "predictions":
        return num_layers + 1
    return None


LAYER_ID_FUNCTIONS = {"vanillanet": vanillanet_layer_id}


def layer_lr_multipliers(model, layer_decay, num_layers):
    """{variable path: lr multiplier} of every trainable variable of `model`."""
    family = getattr(model, "family", None)
    if family not in LAYER_ID_FUNCTIONS:
        raise ValueError(
            f"Layer-wise lr decay is defined for the families {sorted(LAYER_ID_FUNCTIONS)}; "
            f"this model's family is {family!r}. Drop layer_decay from the recipe."
        )
    layer_id = LAYER_ID_FUNCTIONS[family]
    scales = [layer_decay ** (num_layers + 1 - i) for i in range(num_layers + 2)]
    multipliers = {}
    for layer in model.layers:
        if not layer.trainable_variables:
            continue
        index = layer_id(layer.name, num_layers)
        if index is None or index >= len(scales):
            raise ValueError(
                f"Layer {layer.name!r} has no layer id for {family} layer decay over "
                f"{num_layers} layers (ids 0 … {num_layers + 1})."
            )
        for variable in layer.trainable_variables:
            multipliers[variable.path] = scales[index]
    return multipliers
