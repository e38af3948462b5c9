"""DeepMind's Haiku parameter files (NFNet's F0_haiku.npz … F6_haiku.npz) without dill.

Despite the suffix these are not numpy archives: DeepMind's nfnets/utils.py writes and reads
them with `dill`, as a pickle of the Haiku parameter tree {module: {param: np.ndarray}}.
dill pickles each array as a call of its helper `dill._dill._create_array(_reconstruct,
(np.ndarray, shape, dtype), state, None)`; that helper is the only global DeepMind's files
need besides numpy's own. It is replaced here by a stand-in that rebuilds a plain numeric
ndarray and refuses anything else, so nothing a file names is ever imported or run.
"""

import pickle

import numpy as np

from keras_minimal.weights.restricted_pickle import (
    CONTAINER_GLOBALS,
    NUMPY_GLOBALS,
    RestrictedUnpickler,
)

# Pickle protocols 2–5 start with the PROTO opcode; a zip archive (np.savez) starts with "PK".
PICKLE_MAGIC = b"\x80"
DILL_CREATE_ARRAY = ("dill._dill", "_create_array")
_RECONSTRUCT = NUMPY_GLOBALS[("numpy._core.multiarray", "_reconstruct")]
_DEEPMIND_RELEASE = "https://storage.googleapis.com/dm-nfnets/"


def is_pickle(path):
    """Whether the file at `path` starts as a pickle of protocol 2 or later does."""
    with open(path, "rb") as file:
        return file.read(1) == PICKLE_MAGIC


class _Refused(Exception):
    """Carries a refusal (a ValueError for the user) out of the unpickler untouched."""

    def __init__(self, error):
        super().__init__(str(error))
        self.error = error


def _refusal(path, received):
    return _Refused(
        ValueError(
            f"Refused to load {path!r}: its pickle calls dill's _create_array with {received}, "
            "which DeepMind's Haiku parameter files never do. Only plain numeric numpy arrays "
            "are rebuilt, and nothing in the file was executed. Get the weights from "
            f"DeepMind's release ({_DEEPMIND_RELEASE}F0_haiku.npz … F6_haiku.npz)."
        )
    )


def _array_rebuilder(path):
    """The stand-in for dill's `_create_array(f, args, state, npdict=None)`."""

    def create_array(f, args, state, npdict=None):
        if f is not _RECONSTRUCT:
            raise _refusal(path, f"the constructor {f!r} instead of numpy's _reconstruct")
        if not (isinstance(args, tuple) and len(args) == 3 and args[0] is np.ndarray):
            raise _refusal(path, f"the arguments {args!r:.100} instead of (numpy.ndarray, ...)")
        dtype = state[2] if isinstance(state, tuple) and len(state) == 5 else None
        if not isinstance(dtype, np.dtype) or dtype.hasobject:
            raise _refusal(path, f"an array state of dtype {dtype!r:.60}, not a numeric one")
        if npdict is not None:
            raise _refusal(path, "attributes for the array's __dict__ (an ndarray subclass)")
        array = f(*args)
        array.__setstate__(state)
        return array

    return create_array


class _HaikuUnpickler(RestrictedUnpickler):
    def find_class(self, module, name):
        try:
            return super().find_class(module, name)
        except ValueError as refusal:
            raise _Refused(refusal) from None


def read_haiku_pickle(path):
    """The object pickled in `path` by dill, as DeepMind writes its Haiku parameter trees.

    Raises:
        ValueError: the pickle names a global other than numpy's array helpers and
            dill's `_create_array`, or calls the latter with anything but a numeric array
            (nothing is run: the refusal happens before any call).
        pickle.UnpicklingError: the file is damaged or truncated.
    """
    allowed = {**CONTAINER_GLOBALS, **NUMPY_GLOBALS, DILL_CREATE_ARRAY: _array_rebuilder(path)}
    try:
        with open(path, "rb") as file:
            return _HaikuUnpickler(file, path, allowed).load()
    except _Refused as refused:
        raise refused.error from None
    except (MemoryError, RecursionError, OSError):
        raise  # the machine or the disk, not the file's content
    except Exception as error:  # truncation, garbage opcodes, inconsistent array states
        raise pickle.UnpicklingError(f"{type(error).__name__}: {error}") from None
