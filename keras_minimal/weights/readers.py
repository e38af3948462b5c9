"""Read reference checkpoints into a flat {name: numpy array} without unpickling code."""

import os
import pickle
from collections.abc import Mapping

import numpy as np

from keras_minimal.weights.checkpoint_errors import CorruptCheckpointError, corrupt_checkpoint
from keras_minimal.weights.file_kinds import describe_file
from keras_minimal.weights.haiku_pickle import is_pickle, read_haiku_pickle
from keras_minimal.weights.keras_files import is_keras_file
from keras_minimal.weights.pdparams import PDPARAMS_SUFFIX, read_pdparams
from keras_minimal.weights.safetensors_file import read_safetensors
from keras_minimal.weights.torch_checkpoint import read_torch_checkpoint

__all__ = ["CorruptCheckpointError", "read_checkpoint", "reader_for", "refuse_directory"]

# timm's train.py writes model_best.pth.tar and checkpoint-N.pth.tar.
TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".tar")
# What a directory given as a checkpoint is searched for, to name in the error.
_LISTED_SUFFIXES = (*TORCH_SUFFIXES, PDPARAMS_SUFFIX, ".safetensors", ".npz", ".weights.h5")
# Wrappers of training scripts, in order of preference: the EMA weights are what
# the official VanillaNet evaluation and timm's load_checkpoint use by default.
WRAPPER_KEYS = ("model_ema", "state_dict_ema", "model", "state_dict", "module")
# Name prefixes of wrapped modules: DistributedDataParallel and torch.compile, in any order.
MODULE_PREFIXES = ("module.", "_orig_mod.")


def read_checkpoint(source, key=None):
    """A reference checkpoint as {name: np.ndarray}, wrappers and 'module.' prefixes removed.

    Args:
        source: a path (.pth/.pt/.bin/.ckpt/.pth.tar, read without torch: torch_checkpoint;
            .pdparams (PaddlePaddle); .safetensors; .npz; DeepMind's pickled F*_haiku.npz) or a
            mapping of names to arrays or tensors.
        key: the wrapper to take ("model", "model_ema", ...); by default the
            first of WRAPPER_KEYS that is present, or the mapping itself.

    Nested mappings (Haiku's {module: {param: array}}) are flattened to "module/param".
    """
    if isinstance(source, Mapping):
        state = source
    elif isinstance(source, (str, os.PathLike)):
        state = _read_file(os.fspath(source))
    else:
        raise TypeError(
            "A reference checkpoint is a path (.pth, .pt, .safetensors, .npz) or a mapping "
            f"name → array. Received: {type(source).__name__}"
        )
    if not isinstance(state, Mapping):
        if isinstance(state, np.ndarray):
            received = f"a single tensor of shape {state.shape}"
        else:
            received = type(state).__name__
        raise TypeError(
            "A reference checkpoint holds a state dict (a mapping name → array). "
            f"Received: {received}"
        )
    state = _flatten(_unwrap(state, key))
    not_names = [name for name in state if not isinstance(name, str)]
    if not_names:
        raise TypeError(
            "A reference checkpoint's state dict is keyed by parameter names (strings). "
            f"Received keys: {not_names[:5]!r}"
        )
    arrays = {}
    for name, value in state.items():
        arrays[_strip_module_prefixes(name)] = _to_numpy(name, value)
    return arrays


def _strip_module_prefixes(name):
    while name.startswith(MODULE_PREFIXES):
        name = name.split(".", 1)[1]
    return name


def _flatten(state):
    """Nested mappings (DeepMind's Haiku params: {module: {param: array}}) as "module/param"."""
    if not any(isinstance(value, Mapping) for value in state.values()):
        return state
    flat = {}
    for name, value in state.items():
        if isinstance(value, Mapping):
            for inner, array in _flatten(value).items():
                flat[f"{name}/{inner}"] = array
        else:
            flat[name] = value
    return flat


def refuse_directory(path):
    """ValueError when `path` is a directory, naming the checkpoint files in it."""
    if not os.path.isdir(path):
        return
    try:
        inside = sorted(n for n in os.listdir(path) if n.lower().endswith(_LISTED_SUFFIXES))
    except OSError:
        inside = []
    if inside:
        shown = ", ".join(inside[:5]) + (", …" if len(inside) > 5 else "")
        found = f"it holds {shown}: pass one of them, e.g. {os.path.join(path, inside[0])!r}."
    else:
        found = (
            "it holds no checkpoint file (.pth, .pt, .bin, .pdparams, .safetensors, .npz, "
            ".weights.h5)."
        )
    raise ValueError(f"The checkpoint path is a directory, not a file; {found} Received: {path!r}")


def _read_file(path):
    refuse_directory(path)
    if not os.path.isfile(path):
        raise ValueError(f"Checkpoint file not found. Received: {path!r}")
    if path.lower().endswith(".weights.h5") or is_keras_file(path):
        raise ValueError(
            f"{path!r} is a Keras weights file, not a reference checkpoint: pass it as "
            "weights=... to the model constructor or use model.load_weights(); a "
            "keras.applications model's loads with "
            "keras_minimal.weights.load_keras_applications(model, path)."
        )
    return reader_for(path)(path)


def reader_for(path):
    """The reader of a checkpoint path by its suffix, or one error saying what the file looks
    like and which kinds are read."""
    lower = os.fspath(path).lower()
    if lower.endswith(TORCH_SUFFIXES):
        return read_torch_checkpoint
    if lower.endswith(PDPARAMS_SUFFIX):
        return read_pdparams
    if lower.endswith(".safetensors"):
        return read_safetensors
    if lower.endswith(".npz"):
        return _read_npz
    looks_like = f" It looks like {describe_file(path)}." if os.path.isfile(path) else ""
    raise ValueError(
        f"Unsupported checkpoint format.{looks_like} Read are PyTorch checkpoints "
        "(.pth/.pt/.bin/.ckpt/.pth.tar), PaddlePaddle .pdparams, .safetensors and .npz archives "
        "of arrays, DeepMind's pickled F*_haiku.npz, and, as weights= of a constructor, Keras "
        ".weights.h5 files (model.save_weights). "
        f"Received: {os.fspath(path)!r}"
    )


def _read_npz(path):
    if is_pickle(path):  # DeepMind's F*_haiku.npz: a dill pickle, not a zip archive
        return _read_haiku(path)
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError(f"a single {type(data).__name__}, not an .npz archive of arrays")
        with data:
            return {name: data[name] for name in data.files}
    except Exception as error:  # zipfile, zlib, numpy header parsing: all mean corrupt
        raise corrupt_checkpoint(path, error) from None


def _read_haiku(path):
    try:
        return read_haiku_pickle(path)
    except pickle.UnpicklingError as error:
        raise corrupt_checkpoint(path, error) from None


def _unwrap(state, key):
    if key is not None:
        if key not in state or not isinstance(state[key], Mapping):
            wrappers = [k for k in state if isinstance(state[k], Mapping)]
            raise ValueError(
                f"The checkpoint has no state dict under {key!r}; it has {wrappers or 'none'}."
            )
        return state[key]
    for wrapper in WRAPPER_KEYS:
        if isinstance(state.get(wrapper), Mapping):
            return state[wrapper]
    return state


def _to_numpy(name, value):
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu()
        if value.is_floating_point():
            value = value.float()
        return value.numpy()
    try:
        array = np.asarray(value)
    except Exception as error:
        raise TypeError(
            f"Checkpoint entry {name!r} is not an array ({type(value).__name__}): {error}"
        ) from None
    if array.dtype == object or array.dtype.kind in "SU":
        raise TypeError(
            f"Checkpoint entry {name!r} is not a numeric array. A checkpoint maps parameter "
            f"names to arrays or tensors. Received: {type(value).__name__} {value!r:.80}"
        )
    return array
