"""What a model outputs (logits, probabilities, features), and its logits before a softmax.

Parity on probabilities says little: a saturated softmax hides any error in the logits
(1e-30 against 1e-32 is a "max abs error" of 1e-30), and a flat one is all rounding. A
model that ends in a softmax is therefore verified on its logits too, through a twin
with its weights that stops before the softmax.
"""

import keras

from keras_minimal import model_families

LOGITS = "logits"
PROBABILITIES = "probabilities"
FEATURES = "features"
OUTPUTS = "outputs"  # a model of unknown meaning: its numbers are compared as they are


def _output_call(model):
    """(layer, its input tensor) of the call that computes a single-output functional
    model's output, or (None, None)."""
    outputs = getattr(model, "outputs", None)
    history = getattr(outputs[0], "_keras_history", None) if outputs and len(outputs) == 1 else None
    if history is None:
        return None, None
    layer = history.operation
    inputs = layer._inbound_nodes[history.node_index].input_tensors
    return layer, (inputs[0] if len(inputs) == 1 else None)


def _ends_in_softmax(layer):
    if isinstance(layer, keras.layers.Softmax):
        return True
    activation = getattr(layer, "activation", None)
    return keras.activations.get(activation) is keras.activations.softmax


def output_kind(model):
    """LOGITS, PROBABILITIES, FEATURES (a keras_minimal backbone without its top) or
    OUTPUTS (any other model's last layer, whose meaning is unknown)."""
    layer, _ = _output_call(model)
    if layer is not None and _ends_in_softmax(layer):
        return PROBABILITIES
    if not model_families.is_ours(model):
        return OUTPUTS
    config = model.builder_config
    if not config.get("include_top", True):
        return FEATURES
    activation = config.get("classifier_activation")
    linear = activation is None or keras.activations.get(activation) is keras.activations.linear
    return LOGITS if linear else OUTPUTS


def logits_model(model):
    """A model computing `model`'s logits: its graph up to the final softmax (its layers,
    and a linear copy of a last layer that applies the softmax itself). None when `model`
    does not end in a softmax or its graph cannot be cut there (a subclassed model, or a
    softmax over several inputs)."""
    layer, layer_input = _output_call(model)
    if layer is None or layer_input is None or not _ends_in_softmax(layer):
        return None
    if isinstance(layer, (keras.layers.Softmax, keras.layers.Activation)):
        logits = layer_input
    else:  # a Dense or convolution with activation="softmax": the same layer, linear
        linear = layer.__class__.from_config({**layer.get_config(), "activation": "linear"})
        logits = linear(layer_input)
        linear.set_weights(layer.get_weights())
    inputs = model.inputs  # a list: Sequential has no .input
    return keras.Model(
        inputs[0] if len(inputs) == 1 else inputs, logits, name=f"{model.name}_logits"
    )
