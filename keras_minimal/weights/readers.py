"""Read reference checkpoints into a flat {name: numpy array} without unpickling code."""

import argparse
import os
import pickle
import re
from collections.abc import Mapping

import numpy as np

TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")
# Wrappers of training scripts, in order of preference: the EMA weights are what
# the official VanillaNet evaluation and timm's load_checkpoint use by default.
WRAPPER_KEYS = ("model_ema", "state_dict_ema", "model", "state_dict", "module")


def read_checkpoint(source, key=None):
    """A reference checkpoint as {name: np.ndarray}, wrappers and 'module.' prefixes removed.

    Args:
        source: a path (.pth/.pt/.bin/.ckpt via torch.load(weights_only=True),
            .safetensors, .npz) or a mapping of names to arrays or tensors.
        key: the wrapper to take ("model", "model_ema", ...); by default the
            first of WRAPPER_KEYS that is present, or the mapping itself.
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
    state = _unwrap(state, key)
    not_names = [name for name in state if not isinstance(name, str)]
    if not_names:
        raise TypeError(
            "A reference checkpoint's state dict is keyed by parameter names (strings). "
            f"Received keys: {not_names[:5]!r}"
        )
    arrays = {}
    for name, value in state.items():
        if name.startswith("module."):
            name = name[len("module.") :]
        arrays[name] = _to_numpy(name, value)
    return arrays


def _read_file(path):
    if not os.path.isfile(path):
        raise ValueError(f"Checkpoint file not found. Received: {path!r}")
    lower = path.lower()
    if lower.endswith(".weights.h5"):
        raise ValueError(
            f"{path!r} is a Keras weights file, not a reference checkpoint: pass it as "
            "weights=... to the model constructor or use model.load_weights()."
        )
    if lower.endswith(TORCH_SUFFIXES):
        reader = _read_torch
    elif lower.endswith(".safetensors"):
        reader = _read_safetensors
    elif lower.endswith(".npz"):
        reader = _read_npz
    else:
        raise ValueError(
            "Unsupported checkpoint format; use .pth/.pt/.bin/.ckpt (PyTorch), .safetensors "
            "or .npz (or, as weights= of a constructor, a Keras .weights.h5 file). "
            f"Received: {path!r}"
        )
    return reader(path)


def _corrupt(path, error):
    return ValueError(
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
    try:
        # Training scripts (the official VanillaNet main.py) store their argparse
        # Namespace next to the weights; it is plain data, so it is allowed here.
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        refused = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
        if refused is None:
            raise _corrupt(path, error) from None
        raise ValueError(
            f"{path!r} holds a {refused[1]} object next to its tensors (training-script "
            "state, for example); only tensors and plain containers are unpickled, for "
            "safety. If you trust the file, re-save its state dict alone, e.g. "
            "torch.save(torch.load(path, weights_only=False)['model'], 'weights.pth'), or "
            "convert it to .safetensors."
        ) from None
    except Exception as error:
        raise _corrupt(path, error) from None


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
        return np.asarray(value)
    except Exception as error:
        raise TypeError(
            f"Checkpoint entry {name!r} is not an array ({type(value).__name__}): {error}"
        ) from None
