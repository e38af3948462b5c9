"""The dtype policy a model computes in."""


def computing_policy(model):
    """The policy `model`'s layers compute in (its first weighted layer's).

    Not `model.dtype_policy`: a functional model loaded from a .keras file takes the
    global policy of the moment it was loaded, whatever its layers use.
    """
    for layer in model.layers:
        if layer.weights:
            return layer.dtype_policy
    return model.dtype_policy
