"""A reference checkpoint converted once into a Keras .weights.h5 file."""

import os

from keras_minimal.atomic_files import write_atomically
from keras_minimal.keras_bytes import weights_bytes
from keras_minimal.weights.checkpoint_loading import load_checkpoint
from keras_minimal.weights.readers import read_checkpoint

KERAS_WEIGHTS_SUFFIX = ".weights.h5"


def save_weights_atomically(model, path):
    """model.save_weights(path), written whole or not at all (DiskFullError on a full disk)."""
    return write_atomically(path, weights_bytes(model))


def check_output_path(output, overwrite=False):
    """Refuse, before any work, an output that is not a writable new .weights.h5 path."""
    output = os.fspath(output)
    if not output.endswith(KERAS_WEIGHTS_SUFFIX):
        raise ValueError(
            f"The output must be a Keras weights file ending in {KERAS_WEIGHTS_SUFFIX} "
            f"(what model.load_weights and weights= read). Received: {output!r}"
        )
    if os.path.exists(output) and not overwrite:
        raise ValueError(
            f"{output!r} exists; pass overwrite=True (--overwrite) to replace it, or another path."
        )
    directory = os.path.dirname(output) or "."
    if not os.path.isdir(directory):
        raise ValueError(
            f"The output directory {directory!r} does not exist; create it first. "
            f"Received: {output!r}"
        )
    return output


def convert_checkpoint(model, source, output, key=None, overwrite=False, allow_nonfinite=False):
    """Load a reference checkpoint into `model` and write its weights to `output`.

    Loading is all or nothing (`load_reference`'s errors); a deploy-graph model takes the
    training checkpoint and stores the fused weights. The file is written only after
    the whole checkpoint loaded, and atomically.

    Args:
        model: a keras_minimal model of the checkpoint's architecture.
        source: a reference checkpoint path or mapping (see `read_checkpoint`).
        output: the .weights.h5 path to write.
        key: the checkpoint wrapper to take ("model", "model_ema", ...).
        overwrite: replace an existing `output`.
        allow_nonfinite: convert tensors holding NaN or ±inf as they are; by default such a
            checkpoint is refused.

    Returns:
        `output`.
    """
    output = check_output_path(output, overwrite)
    load_checkpoint(model, read_checkpoint(source, key=key), allow_nonfinite=allow_nonfinite)
    save_weights_atomically(model, output)
    return output
