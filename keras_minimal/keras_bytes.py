"""Keras files serialised in memory, so that they reach the disk whole or not at all.

HDF5 written straight to disk is not safe: on a full disk HDF5 reports the failure only as
a log line, Keras returns normally and a torn .weights.h5 stays behind. These functions give
the bytes; keras_minimal.atomic_files writes them.
"""

import io
import logging

from keras.src.saving import saving_lib  # in-memory .weights.h5 / .keras (no public API)

logger = logging.getLogger(__name__)


def weights_bytes(model):
    """The bytes model.save_weights would write to a .weights.h5 file."""
    buffer = io.BytesIO()
    store = saving_lib.H5IOStore(buffer, mode="w")
    try:
        saving_lib._save_state(
            model,
            weights_store=store,
            assets_store=None,
            inner_path="",
            visited_saveables=set(),
        )
    finally:
        store.close()
    return buffer.getvalue()


def model_bytes(model):
    """The bytes of a .keras file of `model` without its optimizer and compile settings
    (a fresh copy from its config), or None for a model that has no config to rebuild from."""
    try:
        copy = type(model).from_config(model.get_config())
    except NotImplementedError:
        logger.warning(
            "No .keras file written: %s has no get_config() to rebuild it from.",
            type(model).__name__,
        )
        return None
    copy.set_weights(model.get_weights())
    buffer = io.BytesIO()
    saving_lib.save_model(copy, buffer)
    return buffer.getvalue()
