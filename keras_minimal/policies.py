"""The dtype policy a model computes in, and a scope that sets the global one."""

import contextlib

import keras


@contextlib.contextmanager
def dtype_policy_scope(policy):
    """Temporarily make `policy` the global Keras dtype policy (layers built inside use it)."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def computing_policy(model):
    """The policy `model`'s layers compute in (its first weighted layer's).

    Not `model.dtype_policy`: a functional model loaded from a .keras file takes the
    global policy of the moment it was loaded, whatever its layers use.
    """
    for layer in model.layers:
        if layer.weights:
            return layer.dtype_policy
    return model.dtype_policy
