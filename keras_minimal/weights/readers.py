"""Read reference checkpoints into a flat {name: numpy array} without unpickling code."""

import argparse
import os
import pickle
import zipfile
from collections.abc import Mapping

import numpy as np

from keras_minimal.weights.keras_files import is_keras_file
from keras_minimal.weights.pickle_refusals import from_torch_refusal

# timm's train.py writes model_best.pth.tar and checkpoint-N.pth.tar.
TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".tar")
# What a directory given as a checkpoint is searched for, to name in the error.
_LISTED_SUFFIXES = (*TORCH_SUFFIXES, ".safetensors", ".npz", ".weights.h5")
# Wrappers of training scripts, in order of preference: the EMA weights are what
# the official VanillaNet evaluation and timm's load_checkpoint use by default.
WRAPPER_KEYS = ("model_ema", "state_dict_ema", "model", "state_dict", "module")
# Name prefixes of wrapped modules: DistributedDataParallel and torch.compile, in any order.
MODULE_PREFIXES = ("module.", "_orig_mod.")


class CorruptCheckpointError(ValueError):
    """The file is truncated, damaged or not a checkpoint at all (a download to redo)."""


def read_checkpoint(source, key=None):
    """A reference checkpoint as {name: np.ndarray}, wrappers and 'module.' prefixes removed.

    Args:
        source: a path (.pth/.pt/.bin/.ckpt/.pth.tar via torch.load(weights_only=True),
            .safetensors, .npz) or a mapping of names to arrays or tensors.
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
        raise TypeError(
            "A reference checkpoint holds a state dict (a mapping name → array). "
            f"Received: {type(state).__name__}"
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
        found = "it holds no checkpoint file (.pth, .pt, .bin, .safetensors, .npz, .weights.h5)."
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
    """The reader of a checkpoint path by its suffix, or one error naming the formats."""
    lower = os.fspath(path).lower()
    if lower.endswith(TORCH_SUFFIXES):
        return _read_torch
    if lower.endswith(".safetensors"):
        return _read_safetensors
    if lower.endswith(".npz"):
        return _read_npz
    raise ValueError(
        "Unsupported checkpoint format; use .pth/.pt/.bin/.ckpt/.pth.tar (PyTorch), "
        ".safetensors or .npz (or, as weights= of a constructor, a Keras .weights.h5 file). "
        f"Received: {path!r}"
    )


def _corrupt(path, error):
    return CorruptCheckpointError(
        f"Could not read checkpoint {path!r} ({type(error).__name__}: {error}). The file is "
        "truncated, corrupt or not a checkpoint; download it again."
    )


def _read_torch(path):
    try:
        import torch
    except ImportError:
        raise ImportError(
            f"Reading {path!r} needs PyTorch: pip install 'keras-minimal[convert]' "
            "(or convert the checkpoint to .safetensors elsewhere)."
        ) from None
    if _is_torchscript(path):
        raise ValueError(
            f"{path!r} is a TorchScript archive (torch.jit.save), not a state dict. "
            "Re-save its weights: torch.save(torch.jit.load(path).state_dict(), 'weights.pth')."
        )
    try:
        # Training scripts (the official VanillaNet main.py) store their argparse
        # Namespace next to the weights; it is plain data, so it is allowed here.
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise (from_torch_refusal(path, error) or _corrupt(path, error)) from None
    except (AttributeError, ImportError, MemoryError):
        raise  # the environment, not the file
    except Exception as error:
        raise _corrupt(path, error) from None


def _is_torchscript(path):
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("/constants.pkl") for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False  # torch.load says what is wrong with it


def _read_safetensors(path):
    try:
        from safetensors.numpy import load_file
    except ImportError:
        raise ImportError(
            f"Reading {path!r} needs safetensors: pip install 'keras-minimal[convert]'."
        ) from None
    try:
        return load_file(path)
    except Exception as error:
        raise _corrupt(path, error) from None


def _read_npz(path):
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError(f"a single {type(data).__name__}, not an .npz archive of arrays")
        with data:
            return {name: data[name] for name in data.files}
    except Exception as error:  # zipfile, zlib, numpy header parsing: all mean corrupt
        raise _corrupt(path, error) from None


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
