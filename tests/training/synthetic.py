"""Small synthetic image data written to a temporary directory (no real dataset here)."""

import json
import os

import numpy as np
import tensorflow as tf


def write_image_folder(root, classes=3, per_class=8, size=(36, 36), fmt="png", seed=0):
    """Class folders c0, c1, ... of images whose mean colour depends on the class."""
    rng = np.random.default_rng(seed)
    for c in range(classes):
        os.makedirs(os.path.join(root, f"c{c}"), exist_ok=True)
        for i in range(per_class):
            image = np.clip(rng.normal(60 * c + 40, 30, (*size, 3)), 0, 255).astype(np.uint8)
            encoded = tf.io.encode_png(image) if fmt == "png" else tf.io.encode_jpeg(image)
            tf.io.write_file(os.path.join(root, f"c{c}", f"{i:03d}.{fmt}"), encoded)
    return root


def tiny_vanillanet_config(path, classes=3, image_size=32, drop_rate=0.05):
    """A --model_config JSON of the tiny VanillaNet (the vanillanet_tiny5 fixture's widths)."""
    config = {
        "family": "vanillanet",
        "config": {
            "dims": [16, 32, 64, 128],
            "strides": [2, 2, 2],
            "classes": classes,
            "input_shape": [image_size, image_size, 3],
            "classifier_activation": None,
            "drop_rate": drop_rate,
            "name": "vanillanet_tiny",
        },
    }
    with open(path, "w") as f:
        json.dump(config, f)
    return path
