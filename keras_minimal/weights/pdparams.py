"""PaddlePaddle `.pdparams` files (`paddle.save` of a state dict), read without Paddle.

`paddle.save(layer.state_dict(), path)` pickles {structured name: numpy array} (protocol 4
by default, 2 in older releases) plus bookkeeping entries that `paddle.load` removes, and so
does this reader:

- "StructuredToParameterName@@": structured name → Paddle's internal parameter name;
- "UnpackBigParamInfor@@" (protocols 2 and 3 only): arrays too large for those protocols were
  flattened and cut into "<name>@@.<i>" slices; they are joined back as `paddle.load`'s
  `_pack_loaded_dict` does.

The pickle is read by the restricted unpickler, allowing numpy arrays and plain containers
only: a file that names any other global is refused before anything in it is called.
"""

import numpy as np

from keras_minimal.weights.checkpoint_errors import CorruptCheckpointError
from keras_minimal.weights.restricted_pickle import (
    CONTAINER_GLOBALS,
    NUMPY_GLOBALS,
    RestrictedUnpickler,
)

PDPARAMS_SUFFIX = ".pdparams"
STRUCTURED_NAMES_KEY = "StructuredToParameterName@@"
BIG_PARAMS_KEY = "UnpackBigParamInfor@@"
PDPARAMS_GLOBALS = {**CONTAINER_GLOBALS, **NUMPY_GLOBALS}


class _Unpickler(RestrictedUnpickler):
    """Keeps the refusal it raised, so that a refused file is not reported as damaged."""

    refusal = None

    def find_class(self, module, name):
        try:
            return super().find_class(module, name)
        except ValueError as error:
            self.refusal = error
            raise


def _damaged(path, error):
    return CorruptCheckpointError(
        f"Could not read {path!r} as a PaddlePaddle .pdparams file ({type(error).__name__}: "
        f"{error}). The file is truncated, corrupt or not a checkpoint; download it again."
    )


def _join_big_params(state, path):
    """`paddle.load`'s _pack_loaded_dict: each sliced array back in one piece, in place."""
    for name, info in state.pop(BIG_PARAMS_KEY).items():
        try:
            slices = [state.pop(part) for part in info["slices"]]
            state[name] = np.concatenate(slices).reshape(info["OriginShape"])
        except (KeyError, TypeError, ValueError) as error:
            raise _damaged(path, error) from None


def read_pdparams(path):
    """The state dict saved in the .pdparams file `path`, as {name: np.ndarray}.

    Raises:
        CorruptCheckpointError: the file is not a readable pickle (truncated, damaged).
        PickledCodeError / ValueError: the pickle names a global outside the allow-list
            (code to run, or an object that is not weights); nothing was called.
    """
    with open(path, "rb") as file:
        unpickler = _Unpickler(file, path, PDPARAMS_GLOBALS)
        try:
            state = unpickler.load()
        except MemoryError:
            raise  # the machine, not the file
        except Exception as error:  # every way a damaged pickle fails to load
            if error is unpickler.refusal:
                raise
            raise _damaged(path, error) from None
    if isinstance(state, dict):
        state.pop(STRUCTURED_NAMES_KEY, None)
        if BIG_PARAMS_KEY in state:
            _join_big_params(state, path)
    return state
