"""Keras' own weight files (and Keras models) read into a flat {name: numpy array}.

Nothing is deserialised or built: the arrays are read with h5py, so a file written by a
model whose layers are not importable here (keras.applications' ConvNeXt has
unregistered layers) reads all the same. Two namings come out, as the files hold them:

- Keras 3 native (`model.save_weights("x.weights.h5")`, and the `model.weights.h5`
  inside a `.keras` zip): the file's own paths, "layers/<key>/vars/<i>", where <key> is
  the layer's class in snake case numbered in the model's layer order ("conv2d",
  "conv2d_1", …) and a nested model's layers sit under "layers/<key>/layers/…".
- By layer name (legacy HDF5 from `model.save("x.h5")` or tf.keras' `save_weights("x.h5")`,
  as keras.applications downloads them; and a `keras.Model`): "<layer name>/vars/<i>",
  <i> counting the top-level layer's weights in order (a nested Sequential's included).
"""

import os
import zipfile

import h5py
import keras
import numpy as np

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
KERAS_ZIP_MEMBERS = ("config.json", "model.weights.h5")


def keras_file_kind(path):
    """ "hdf5" or "keras" (a .keras zip) by the file's content, else None."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(HDF5_SIGNATURE))
    except OSError:
        return None
    if head == HDF5_SIGNATURE:
        return "hdf5"
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError):
            return None
        if all(member in names for member in KERAS_ZIP_MEMBERS):
            return "keras"
    return None


def is_keras_file(path):
    return keras_file_kind(os.fspath(path)) is not None


def _unreadable(path, error):
    return ValueError(
        f"Could not read the Keras file {path!r} ({type(error).__name__}: {error}). It is "
        "truncated or corrupt; save or download it again."
    )


def read_keras_file(path, names_only=False):
    """{name: array} of a Keras weights file (see the module docstring for the names).

    With names_only=True the values are the arrays' shapes and nothing is read.
    """
    path = os.fspath(path)
    kind = keras_file_kind(path)
    if kind is None:
        raise ValueError(
            "Not a Keras file: neither HDF5 (.weights.h5, .h5) nor a .keras zip holding "
            f"{' and '.join(KERAS_ZIP_MEMBERS)}. Received: {path!r}"
        )
    try:
        if kind == "hdf5":
            with h5py.File(path, "r") as handle:
                return _read_hdf5(handle, names_only)
        with zipfile.ZipFile(path) as archive, archive.open("model.weights.h5") as member:
            with h5py.File(member, "r") as handle:
                return _read_hdf5(handle, names_only)
    except (OSError, KeyError, zipfile.BadZipFile, ValueError) as error:
        raise _unreadable(path, error) from None


def _read_hdf5(handle, names_only):
    if "model_weights" in handle:  # legacy model.save("x.h5")
        return _read_legacy(handle["model_weights"], names_only)
    if "layer_names" in handle.attrs:  # legacy save_weights("x.h5")
        return _read_legacy(handle, names_only)
    arrays = {}

    def visit(name, item):
        if isinstance(item, h5py.Dataset):
            arrays[name] = _value(item, names_only)

    handle.visititems(visit)
    return arrays


def _read_legacy(group, names_only):
    arrays = {}
    for layer_name in _strings(group.attrs["layer_names"]):
        layer = group[layer_name]
        for index, weight_name in enumerate(_strings(layer.attrs.get("weight_names", []))):
            arrays[f"{layer_name}/vars/{index}"] = _value(layer[weight_name], names_only)
    return arrays


def _strings(values):
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def _value(dataset, names_only):
    return tuple(dataset.shape) if names_only else np.asarray(dataset[()])


def model_weights(model):
    """{"<layer name>/vars/<i>": array} of a Keras model's top-level layers."""
    return {
        f"{layer.name}/vars/{index}": keras.ops.convert_to_numpy(variable)
        for layer in model.layers
        for index, variable in enumerate(layer.weights)
    }


def read_keras_source(source):
    """A Keras file path (by content) or a `keras.Model`, as {name: array}."""
    if isinstance(source, keras.Model):
        return model_weights(source)
    if isinstance(source, (str, os.PathLike)):
        return read_keras_file(source)
    raise TypeError(
        "A Keras source is the path of a .weights.h5, .h5 or .keras file, or a keras.Model. "
        f"Received: {type(source).__name__}"
    )
