"""Named setups for documentation blocks: `<!-- doc-test: setup NAME ARG... -->` runs
NAME(*ARGS) in the block's working folder first, in a fresh interpreter
(`python -m tests.doc_setups '[["NAME", "ARG", ...], ...]'`).

Each stands in for something a reader has and CI has not: a network download, their own
images.
"""

import ast
import json
import os
import sys

import keras
import tensorflow as tf

import keras_minimal
from keras_minimal.applications.vanillanet.variants import VARIANTS
from keras_minimal.training.digits import load_digits_rgb
from keras_minimal.weights.imagenet import converted_weights_path
from tests.torch_reference import random_training_state_dict


def imagenet_cache(model_name, *options):
    """Random weights where `weights="imagenet"` finds its converted, cached file, so that
    the block runs offline as written. Options are key=value constructor arguments (Python
    literals) of the form the block builds, e.g. include_top=False; weights=NAME stands in
    for another published release (weights="imagenet_timm")."""
    kwargs = dict(_option(option) for option in options)
    name = kwargs.pop("weights", "imagenet")
    keras.utils.set_random_seed(0)
    model = keras_minimal.create_model(model_name, **kwargs)
    path = converted_weights_path(model, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    model.save_weights(path)


def _option(text):
    key, value = text.split("=", 1)
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def digits_folder(directory, count="200"):
    """A folder of one sub-folder per class: scikit-learn's digits as 32×32 RGB PNG files."""
    (images, labels), _ = load_digits_rgb(image_size=32)
    n = int(count)
    for i, (image, label) in enumerate(zip(images[:n], labels[:n], strict=True)):
        os.makedirs(f"{directory}/{label}", exist_ok=True)
        tf.io.write_file(f"{directory}/{label}/{i}.png", tf.io.encode_png(tf.cast(image, tf.uint8)))


def vanillanet_checkpoint(path, variant="vanillanet_5"):
    """A checkpoint in the official VanillaNet release's layout ({"model": state_dict},
    training form, torch.save), random weights: what the release URL would give."""
    import torch  # the dev extra; only this setup needs it

    config = VARIANTS[variant]
    state = random_training_state_dict(config.dims, config.strides, classes=1000)
    torch.save({"model": {k: torch.from_numpy(v) for k, v in state.items()}}, path)


SETUPS = {
    "imagenet_cache": imagenet_cache,
    "digits_folder": digits_folder,
    "vanillanet_checkpoint": vanillanet_checkpoint,
}


if __name__ == "__main__":
    for name, *arguments in json.loads(sys.argv[1]):  # [[NAME, ARG, ...], ...]
        SETUPS[name](*arguments)
