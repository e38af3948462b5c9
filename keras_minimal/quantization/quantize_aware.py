"""quantize_aware(model): a new model that trains with int8 fake quantisation."""

import keras

from keras_minimal import model_families
from keras_minimal.deploy.precision import check_not_quantized
from keras_minimal.deploy.to_deploy import to_deploy
from keras_minimal.layers.activation_quantizer import is_quantize_aware
from keras_minimal.quantization.rewriter import Rewriter
from keras_minimal.quantization.rules import refusal, rule_for

DEFAULT_EMA_DECAY = 0.999


def _graph_model(model):
    if isinstance(model, keras.Sequential):
        return keras.Model(model.inputs, model.outputs, name=model.name)
    if not hasattr(model, "_nodes_by_depth"):
        raise TypeError(
            "quantize_aware rebuilds a functional model layer by layer; a subclassed model "
            "has no graph to rebuild. Build it with the functional API (or "
            f"keras.Sequential). Received: a {type(model).__name__}"
        )
    return model


def _problems(model):
    problems = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            problems += _problems(_graph_model(layer))
            continue
        problem = refusal(layer)
        if problem:
            problems.append(problem)
    calls = {}
    for nodes in model._nodes_by_depth.values():
        for node in nodes:
            if not node.is_input:
                calls[id(node.operation)] = calls.get(id(node.operation), 0) + 1
    shared = [layer.name for layer in model.layers if calls.get(id(layer), 0) > 1]
    if shared:
        problems.append(
            f"Layers called more than once ({', '.join(shared)}): give each call its own "
            "layer, so that each output gets its own range."
        )
    return problems


def quantize_aware(model, *, ema_decay=DEFAULT_EMA_DECAY):
    """A NEW trainable float32 model computing `model` with int8 fake quantisation.

    The model to fine-tune with quantisation-aware training (QAT) before a full-integer
    TFLite export (keras_minimal.deploy.export(..., "tflite", quantization="int8"),
    which takes the trained ranges: no calibration data). A keras_minimal model is
    fused first (keras_minimal.deploy.to_deploy: BatchNorm folded, VanillaNet merged,
    weight standardisation folded); any other functional model must be fused already.

    Every convolution and Dense keeps its float weights (trainable) and computes with
    them rounded to int8 (symmetric, per output channel; per tensor for Dense over
    vectors); every tensor TFLite's int8 kernels write (the model input; each
    convolution's output after its bias and fused ReLU/ReLU6; other activations, adds,
    multiplies, means) is rounded to 8 bits over a range tracked in training by an
    ActivationQuantizer (moving averages of the batch min/max, decay `ema_decay`).
    Gradients pass the rounding straight through. The ranges and their step counts are
    model variables: .keras files and Trainer checkpoints keep them.

    `model` is left untouched.

    Raises:
        ValueError: a layer that cannot be quantised (named, with the fix), a BatchNorm
            or other training-graph layer not folded, a family model that cannot be
            fused (VanillaNet at λ ≠ 1), a model already quantised.
        TypeError: a subclassed model (no graph to rebuild).
    """
    check_not_quantized(model, "quantize_aware")
    if is_quantize_aware(model):
        raise ValueError(
            f"{model.name!r} is quantisation-aware already (it has ActivationQuantizer "
            "layers): train or export it as it is, or quantise the float model it came from."
        )
    if model_families.is_ours(model):
        try:
            model = to_deploy(model)
        except ValueError as error:
            raise ValueError(
                f"quantize_aware starts from the fused inference graph, and {model.name!r} "
                f"cannot be fused yet: {error}"
            ) from None
    model = _graph_model(model)
    problems = _problems(model)
    if problems:
        raise ValueError(
            f"quantize_aware cannot quantise {model.name!r}:\n- " + "\n- ".join(problems)
        )
    rewriter = Rewriter(model, rule_for, float(ema_decay))
    inputs = [
        keras.Input(batch_shape=tensor.shape, dtype="float32", name=tensor.name)
        for tensor in model.inputs
    ]
    rewriter.name_inputs(model.inputs, inputs)
    outputs = model._run_through_graph(inputs, call_fn=rewriter.call)
    return keras.Model(inputs[0] if len(inputs) == 1 else inputs, outputs, name=f"{model.name}_qat")
