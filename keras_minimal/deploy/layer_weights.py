"""Copying weights between two forms of one network, layer by layer, by name."""


def copy_layer_weights(source, target, skip=()):
    """Give every weighted layer of `target` the weights of `source`'s layer of that name.

    Layers named in `skip` are left alone (the caller writes fused weights there).
    Raises ValueError when `source` lacks a layer that `target` needs.
    """
    for layer in target.layers:
        if not layer.weights or layer.name in skip:
            continue
        try:
            original = source.get_layer(layer.name)
        except ValueError:
            raise ValueError(
                f"{source.name} has no layer {layer.name!r} to copy into {target.name}; the two "
                "models are not two forms of one network."
            ) from None
        layer.set_weights(original.get_weights())
    return target
