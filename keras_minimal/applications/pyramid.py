"""Multi-scale features for detection and segmentation heads."""

import keras


def feature_pyramid(model, levels=None):
    """A model image → {level: feature map} over `model.pyramid_outputs`.

    Levels are keras-hub's names: "P2" … "P5" are the stage outputs at strides
    4 … 32 (ConvNeXt: its four stages; PP-LCNet: blocks3 … blocks6). The new model
    shares its layers and weights with `model`.

    Args:
        model: a model built by keras_minimal.applications (any include_top).
        levels: the levels to return, e.g. ("P3", "P4", "P5"); default all.

    Returns:
        A keras.Model whose output is a dict level → tensor.
    """
    pyramid = getattr(model, "pyramid_outputs", None)
    if not pyramid:
        raise ValueError(
            "feature_pyramid needs a model built by keras_minimal.applications whose family "
            f"declares pyramid levels (ConvNeXt, PP-LCNet). Received: {model.name!r} "
            f"({type(model).__name__})"
        )
    if levels is None:
        levels = sorted(pyramid)
    unknown = [level for level in levels if level not in pyramid]
    if unknown:
        raise ValueError(
            f"Unknown pyramid level(s) {unknown}; {model.name} has {sorted(pyramid)}. "
            f"Received: levels={list(levels)}"
        )
    outputs = {level: pyramid[level] for level in levels}
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, outputs, name=f"{model.name}_pyramid")
