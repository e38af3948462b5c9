"""The `weights=` argument of every constructor: None, a published checkpoint's name
("imagenet", and more for some families) or a file."""

import os

import keras

from keras_minimal.weights.checkpoint_loading import load_checkpoint, load_keras_weights
from keras_minimal.weights.imagenet import load_imagenet_weights
from keras_minimal.weights.keras_applications import (
    holds_keras_applications_weights,
    load_keras_applications,
)
from keras_minimal.weights.keras_files import is_keras_file
from keras_minimal.weights.readers import reader_for, refuse_directory


def _choices(published):
    names = ", ".join(f'"{name}"' for name in published)
    return (
        f"None, {names}, or the path of a Keras weights file (.weights.h5, .keras, .h5) or a "
        "reference checkpoint"
    )


def _as_path_or_name(weights, published):
    if isinstance(weights, os.PathLike):
        return os.fspath(weights)
    if not isinstance(weights, str):
        raise TypeError(f"weights must be {_choices(published)}. Received: {weights!r}")
    return weights


def check_weights_argument(
    weights, include_top, classes, variant, classifier_activation, published
):
    """Reject a bad `weights` value before anything is built; `published` names the
    family's published checkpoints ("imagenet", …)."""
    if weights is None:
        return
    weights = _as_path_or_name(weights, published)
    if weights in published:
        if variant is None:
            raise ValueError(
                f'weights="{weights}" exist only for the published variants; this '
                "configuration is not one of them. Pass weights=None or the path of your own "
                "weights."
            )
        if include_top and classes != 1000:
            raise ValueError(
                f'If using weights="{weights}" with include_top=True, classes should be 1000 '
                "(or pass include_top=False and add your own classifier). "
                f"Received: classes={classes}"
            )
        if include_top and not _softmax_or_none(classifier_activation):
            raise ValueError(
                f'With weights="{weights}" and include_top=True, classifier_activation must be '
                '"softmax" or None (logits), as in keras.applications: the published '
                "classifier was trained for softmax. Add your own head (include_top=False) "
                f"for another output. Received: classifier_activation={classifier_activation!r}"
            )
        return
    refuse_directory(weights)
    if not os.path.isfile(weights):
        raise ValueError(
            f"weights must be {_choices(published)} (.pth/.pt/.pdparams/.safetensors/.npz). "
            f"Received: weights={weights!r}, which is not an existing file."
        )
    if not (is_keras_file(weights) or weights.lower().endswith(".weights.h5")):
        reader_for(weights)


def _softmax_or_none(activation):
    try:
        function = keras.activations.get(activation)
    except (ValueError, TypeError):
        return False
    return function in (keras.activations.softmax, keras.activations.linear)


def apply_weights_argument(model, weights, published):
    """Load what `weights` names into a freshly built model (`published`: the names of the
    family's published checkpoints)."""
    if weights is None:
        return
    weights = _as_path_or_name(weights, published)
    if weights in published:
        load_imagenet_weights(model, weights)
    elif is_keras_file(weights) and holds_keras_applications_weights(model, weights):
        load_keras_applications(model, weights)
    elif is_keras_file(weights) or weights.lower().endswith(".weights.h5"):
        load_keras_weights(model, weights)
    else:
        load_checkpoint(model, weights)
