"""One restricted unpickler for every pickled checkpoint format (PyTorch, Paddle, Haiku).

A pickle names the callables that rebuild its objects ("globals") and the unpickler calls
them: an ordinary `pickle.load` runs whatever a file names (`posix.system`, ...). Here each
format passes an allow-list, {(module, name): callable}, of what its files may rebuild;
any other global is refused (pickle_refusals.refused_global) before anything is called, so
loading a file never runs code it brings. Names written by Python 2 / protocol ≤ 2 pickles
(`__builtin__`, `copy_reg`, ...) are read as their Python 3 names first.
"""

import _compat_pickle
import codecs
import collections
import pickle

import numpy as np

from keras_minimal.weights.pickle_refusals import refused_global


def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct  # numpy ≥ 2
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


def _numpy_scalar():
    try:
        from numpy._core.multiarray import scalar  # numpy ≥ 2
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import scalar
    return scalar


# Plain containers (a state dict is an OrderedDict) and the helper protocol-2 pickles use for
# bytes.
CONTAINER_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("_codecs", "encode"): codecs.encode,
}

# How numpy pickles an array or a scalar (paddle.save, dill): under numpy 1 and numpy 2 names.
NUMPY_GLOBALS = {
    **{
        (module, "_reconstruct"): _numpy_reconstruct()
        for module in ("numpy.core.multiarray", "numpy._core.multiarray")
    },
    **{
        (module, "scalar"): _numpy_scalar()
        for module in ("numpy.core.multiarray", "numpy._core.multiarray")
    },
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


def _python3_name(module, name):
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles only the globals of `allowed`; `path` names the file in the refusal.

    Args:
        file: a binary file object positioned at the pickle.
        path: the checkpoint's path, for messages.
        allowed: {(module, name): callable} the format may rebuild.
        persistent_load: the format's handler of persistent ids (PyTorch's storages), or None
            to refuse them.
    """

    def __init__(self, file, path, allowed, persistent_load=None):
        super().__init__(file)
        self._path = path
        self._allowed = allowed
        self._persistent_load = persistent_load

    def find_class(self, module, name):
        module, name = _python3_name(module, name)
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise refused_global(self._path, f"{module}.{name}") from None

    def persistent_load(self, pid):
        if self._persistent_load is None:
            raise pickle.UnpicklingError(
                f"{self._path!r} refers to data outside its pickle (persistent id {pid!r}), "
                "which this format does not have."
            )
        return self._persistent_load(pid)


def restricted_load(file, path, allowed, persistent_load=None):
    """The object pickled in `file`, rebuilt with `allowed` globals only (see module doc)."""
    return RestrictedUnpickler(file, path, allowed, persistent_load).load()
