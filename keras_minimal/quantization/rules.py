"""How each kind of layer of a fused float model becomes its quantisation-aware form.

A rule takes the Rewriter, the float layer and the new (quantised) input tensors, adds
the quantisation-aware layers and returns their output. Fake quantisation goes where
TFLite's int8 kernels quantise: the model input; the output of each convolution or
Dense after its bias and fused ReLU/ReLU6; the output of every other activation, of
each add, multiply, mean and normalisation step. Max pooling, padding, reshapes and
dropout keep their input's grid; average pooling rounds back onto it (TFLite's
AVERAGE_POOL_2D keeps the input's scale).
"""

import keras
import numpy as np
from keras import ops

from keras_minimal.layers import (
    AdaptiveMaxPooling2D,
    BandedDepthwiseConv2D,
    DeepTrainingActivation,
    ExactGELU,
    LayerScale,
    ScaledActivation,
    SeriesActivation,
    SkipInitGain,
    StochasticDepth,
    WSConv2D,
)
from keras_minimal.layers.quantized_activation import FIXED_RANGE_ACTIVATIONS, QuantizedActivation
from keras_minimal.layers.quantized_conv2d import QuantizedConv2D
from keras_minimal.layers.quantized_dense import QuantizedDense
from keras_minimal.layers.quantized_depthwise_conv2d import QuantizedDepthwiseConv2D
from keras_minimal.layers.quantized_layer_normalization import QuantizedLayerNormalization
from keras_minimal.layers.quantized_scale import QuantizedScale
from keras_minimal.quantization.activations import (
    FUSABLE,
    LINEAR,
    SUPPORTED,
    activation_kind,
    layer_activation_kind,
)

_FUSE_HINT = (
    "quantize_aware starts from the inference graph, where it is folded: a keras_minimal "
    "model is fused by quantize_aware itself (keras_minimal.deploy.to_deploy); fold your "
    "own model's {what} first"
)


def _numpy(variable):
    return ops.convert_to_numpy(variable)


# -- activations ---------------------------------------------------------------------------
def activate(rewriter, x, name, function=None, layer=None, source=None):
    """`x` through an activation `function` (or activation `layer`), quantised as
    TFLite computes it: nothing to do for linear or a ReLU fused into the layer before,
    a fixed output range for softmax, sigmoid, tanh and hard sigmoid, a tracked one
    otherwise. `source`: the float layer computing it (whose output may be the model's)."""
    kind = layer_activation_kind(layer) if layer is not None else activation_kind(function)
    if kind == LINEAR or (kind in FUSABLE and rewriter.fused_activation(x) == kind):
        return x
    if kind in FIXED_RANGE_ACTIVATIONS:
        output = rewriter.is_model_output(source or layer)
        activation = rewriter.new(
            QuantizedActivation, name, activation=kind, quantize_in_training=not output
        )
        return rewriter.fixed(activation(x))
    if layer is not None:
        compute = rewriter.copy(layer)
    else:
        compute = rewriter.new(keras.layers.Activation, name, activation=function)
    return rewriter.track(compute(x), f"{compute.name}_quant")


def _activation_layer(rewriter, layer, x, **kwargs):
    return activate(rewriter, rewriter.quantized(x), layer.name, layer=layer)


# -- convolutions and Dense ----------------------------------------------------------------
# Layers that commute with ReLU and ReLU6 (x → max(x, 0) before or after them is the same):
# a ReLU after them can be fused into the convolution before them.
COMMUTE_WITH_RELU = (keras.layers.MaxPooling2D, keras.layers.ZeroPadding2D)


def _activation_of(layer):
    """The activation kind that `layer` applies first to its input, if it is one."""
    if isinstance(layer, SeriesActivation):
        return activation_kind(layer.activation)
    return layer_activation_kind(layer)


def _fused_activation(rewriter, layer, kind):
    """(the activation the quantised layer computes, whether it is a later layer's: a
    ReLU/ReLU6 that is the only consumer of the layer's output, possibly through max
    pooling or padding, as VanillaNet's series activations are)."""
    if kind in FUSABLE:
        return kind, False
    if kind == LINEAR:
        after = rewriter.only_consumer(layer)
        while isinstance(after, COMMUTE_WITH_RELU):
            after = rewriter.only_consumer(after)
        if after is not None and _activation_of(after) in FUSABLE:
            return _activation_of(after), True
    return LINEAR, False


def _weighted(rewriter, layer, x, build_layer, weights):
    """A conv/Dense `layer` as `build_layer(activation)`, its output quantised, then the
    activation TFLite does not fuse (or the fused one of the layer after)."""
    kind = activation_kind(layer.activation)
    fused, from_next = _fused_activation(rewriter, layer, kind)
    quantized = build_layer(fused)
    y = quantized(rewriter.quantized(x))
    quantized.set_weights(weights)
    y = rewriter.track(y, f"{layer.name}_quant")
    if from_next:
        return rewriter.fuse(y, fused)
    if kind != fused:
        y = activate(rewriter, y, f"{layer.name}_act", layer.activation, source=layer)
    return y


def _conv(rewriter, layer, x, **kwargs):
    def build(activation):
        return rewriter.copy(layer, QuantizedConv2D, activation=activation)

    return _weighted(rewriter, layer, x, build, layer.get_weights())


def _depthwise(rewriter, layer, x, **kwargs):
    def build(activation):
        return rewriter.copy(layer, QuantizedDepthwiseConv2D, activation=activation)

    return _weighted(rewriter, layer, x, build, layer.get_weights())


def _dense(rewriter, layer, x, **kwargs):
    """Dense over image features (VanillaNet's 1×1 convolutions) is a 1×1 convolution
    with per-channel weights; over vectors, a fully connected layer (per-tensor)."""
    weights = layer.get_weights()
    if len(x.shape) == 4:
        weights[0] = weights[0].reshape(1, 1, *weights[0].shape)

        def build(activation):
            return rewriter.new(
                QuantizedConv2D,
                layer.name,
                filters=layer.units,
                kernel_size=1,
                use_bias=layer.use_bias,
                activation=activation,
            )

    else:

        def build(activation):
            return rewriter.copy(layer, QuantizedDense, activation=activation)

    return _weighted(rewriter, layer, x, build, weights)


def _depthwise_from(rewriter, name, x, kernel, bias, kernel_size, trainable=True):
    """A 'same' stride-1 depthwise convolution with these weights, output quantised."""
    conv = rewriter.new(
        QuantizedDepthwiseConv2D, name, kernel_size=kernel_size, padding="same", trainable=trainable
    )
    y = conv(rewriter.quantized(x))
    conv.set_weights([kernel, bias])
    return rewriter.track(y, f"{conv.name}_quant")


def _banded_depthwise(rewriter, layer, x, **kwargs):
    kernel, *bias = layer.get_weights()
    bias = bias[0] if bias else np.zeros(kernel.shape[2], kernel.dtype)
    return _depthwise_from(rewriter, layer.name, x, kernel, bias, tuple(layer.kernel_size))


# -- the models' own layers ------------------------------------------------------------------
def _rescaling(rewriter, layer, x, **kwargs):
    """x · scale + offset (ImageNet normalisation) as a 1×1 depthwise convolution: one
    int8 kernel with per-channel weights instead of an int8 MUL and ADD."""
    channels = x.shape[-1]
    scale = np.broadcast_to(np.asarray(layer.scale, "float32"), (channels,))
    offset = np.broadcast_to(np.asarray(layer.offset, "float32"), (channels,))
    kernel = scale.reshape(1, 1, channels, 1)
    return _depthwise_from(rewriter, layer.name, x, kernel, offset.copy(), 1, trainable=False)


def _series_activation(rewriter, layer, x, **kwargs):
    y = activate(rewriter, rewriter.quantized(x), f"{layer.name}_act", layer.activation)
    depthwise = layer.depthwise
    kernel, bias = depthwise.get_weights()
    return _depthwise_from(
        rewriter, f"{layer.name}_depthwise", y, kernel, bias, 2 * layer.act_num + 1
    )


def _scale(rewriter, name, x, value, per_channel, trainable=True):
    scale = rewriter.new(QuantizedScale, name, per_channel=per_channel, trainable=trainable)
    y = scale(rewriter.quantized(x))
    scale.set_weights([np.asarray(value, "float32")])
    return rewriter.track(y, f"{scale.name}_quant")


def _layer_scale(rewriter, layer, x, **kwargs):
    return _scale(rewriter, layer.name, x, _numpy(layer.gamma), per_channel=True)


def _skip_init_gain(rewriter, layer, x, **kwargs):
    gain = _numpy(layer.skip_gain) * layer.scale
    return _scale(rewriter, layer.name, x, gain, per_channel=False)


def _scaled_activation(rewriter, layer, x, **kwargs):
    last = layer if layer.scale == 1.0 else None  # the activation is the layer's output
    y = activate(
        rewriter, rewriter.quantized(x), f"{layer.name}_act", layer.activation, source=last
    )
    if layer.scale == 1.0:
        return y
    return _scale(rewriter, layer.name, y, layer.scale, per_channel=False, trainable=False)


def _layer_normalization(rewriter, layer, x, **kwargs):
    norm = rewriter.copy(layer, QuantizedLayerNormalization, axis=-1, ema_decay=rewriter.ema_decay)
    y = norm(rewriter.quantized(x))
    for name in ("gamma", "beta"):
        if getattr(layer, name, None) is not None:
            getattr(norm, name).assign(_numpy(getattr(layer, name)))
    return rewriter.track(y, f"{layer.name}_quant")


# -- shapes, pooling, merges -----------------------------------------------------------------
def _same_grid(rewriter, layer, x, **kwargs):
    x = rewriter.quantized(x)
    y = rewriter.same_grid(rewriter.copy(layer)(x, **kwargs), x)
    if rewriter.fused_activation(x) and isinstance(layer, COMMUTE_WITH_RELU):
        rewriter.fuse(y, rewriter.fused_activation(x))
    return y


def _average_pooling(rewriter, layer, x, **kwargs):
    x = rewriter.quantized(x)
    return rewriter.regrid(rewriter.copy(layer)(x), x, f"{layer.name}_quant")


def _tracked(rewriter, layer, x, **kwargs):
    return rewriter.track(rewriter.copy(layer)(rewriter.quantized(x)), f"{layer.name}_quant")


def _merge(rewriter, layer, inputs, **kwargs):
    inputs = [rewriter.quantized(x) for x in inputs]
    return rewriter.track(rewriter.copy(layer)(inputs), f"{layer.name}_quant")


SAME_GRID = (
    keras.layers.MaxPooling2D,
    keras.layers.ZeroPadding2D,
    keras.layers.Cropping2D,
    keras.layers.Reshape,
    keras.layers.Flatten,
    keras.layers.Permute,
    keras.layers.Dropout,
    keras.layers.SpatialDropout2D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.Identity,
    AdaptiveMaxPooling2D,
    StochasticDepth,
)
# (layer classes, rule), the first match wins: subclasses before their bases.
_RULES = (
    ((QuantizedConv2D, QuantizedDepthwiseConv2D, QuantizedDense), None),
    ((WSConv2D, keras.layers.BatchNormalization, DeepTrainingActivation), None),
    ((keras.layers.Conv2D,), _conv),  # and GroupedConv2D
    ((keras.layers.DepthwiseConv2D,), _depthwise),
    ((BandedDepthwiseConv2D,), _banded_depthwise),
    ((keras.layers.Dense,), _dense),
    ((keras.layers.Rescaling,), _rescaling),
    ((SeriesActivation,), _series_activation),
    ((LayerScale,), _layer_scale),
    ((SkipInitGain,), _skip_init_gain),
    ((ScaledActivation,), _scaled_activation),
    ((keras.layers.LayerNormalization,), _layer_normalization),
    (SAME_GRID, _same_grid),
    ((keras.layers.AveragePooling2D,), _average_pooling),
    ((keras.layers.GlobalAveragePooling2D,), _tracked),
    ((keras.layers.Add, keras.layers.Subtract, keras.layers.Multiply), _merge),
    ((keras.layers.Concatenate,), _merge),
    (
        (
            keras.layers.Activation,
            keras.layers.ReLU,
            keras.layers.LeakyReLU,
            keras.layers.Softmax,
            ExactGELU,
        ),
        _activation_layer,
    ),
)
SUPPORTED_LAYERS = (
    "Conv2D (groups too), DepthwiseConv2D (multiplier 1), Dense, Rescaling, "
    f"activations {', '.join(SUPPORTED)}, Add, Subtract, Multiply, Concatenate, max and "
    "average pooling (global too), padding, cropping, reshapes, dropout, LayerNormalization "
    "(last axis), and keras_minimal's SeriesActivation, ScaledActivation, SkipInitGain, "
    "LayerScale, StochasticDepth, AdaptiveMaxPooling2D"
)


def rule_for(layer):
    """The rule that quantises `layer`; ValueError when there is none."""
    problem = refusal(layer)
    if problem:
        raise ValueError(problem)
    for classes, rule in _RULES:
        if isinstance(layer, classes):
            return rule
    raise AssertionError(f"no rule for {layer.name!r}")  # refusal() said there was one


def _class_rule(layer):
    for classes, rule in _RULES:
        if isinstance(layer, classes):
            return classes, rule
    return None, None


def refusal(layer):
    """Why `layer` cannot be quantised (a sentence naming it and the fix), or None."""
    label = f"{layer.name!r} ({type(layer).__name__})"
    if isinstance(layer, (keras.layers.InputLayer, keras.Model)):
        return None
    if isinstance(layer, (QuantizedConv2D, QuantizedDepthwiseConv2D, QuantizedDense)):
        return f"{label} is quantisation-aware already: quantise the float model instead."
    if isinstance(layer, keras.layers.BatchNormalization):
        return (
            f"{label} is not folded. "
            + _FUSE_HINT.format(
                what="BatchNormalization into the convolution before it "
                "(keras_minimal.deploy.fusion.fold_batch_norm gives its kernel and bias)"
            )
            + "."
        )
    if isinstance(layer, WSConv2D):
        return (
            f"{label} standardises its weights at every call. "
            + _FUSE_HINT.format(
                what="weight standardisation into a plain Conv2D "
                "(keras_minimal.deploy.fusion.standardize_weight)"
            )
            + "."
        )
    if isinstance(layer, DeepTrainingActivation) or (
        isinstance(layer, SeriesActivation) and layer.batch_norm is not None
    ):
        return (
            f"{label} belongs to VanillaNet's training graph. "
            + _FUSE_HINT.format(
                what="graph (model.set_act_learn(1.0) once trained to λ = 1, then to_deploy)"
            )
            + "."
        )
    _, rule = _class_rule(layer)
    if rule is None:
        return (
            f"{label}: quantize_aware has no int8 form for this layer. It quantises "
            f"{SUPPORTED_LAYERS}. Replace the layer with these, or quantise the part of "
            "the model without it (a keras.Model of that part)."
        )
    return _unsupported_option(layer, label)


def _unsupported_option(layer, label):
    activation = getattr(layer, "activation", None)
    if activation is not None and not isinstance(layer, keras.layers.Activation):
        if activation_kind(activation) is None:
            return (
                f"{label} applies the activation "
                f"{keras.activations.serialize(activation)!r}, which quantize_aware cannot "
                f"compute in int8; it knows {', '.join(SUPPORTED)}. Retrain with one of "
                "them (hard_silu for silu/swish)."
            )
    if (
        isinstance(layer, (keras.layers.Activation, keras.layers.ReLU, keras.layers.Softmax))
        and layer_activation_kind(layer) is None
    ):
        return (
            f"{label} computes an activation that quantize_aware cannot compute in int8 "
            f"(a softmax over another axis than the last, a ReLU with a threshold, or "
            f"another function); it knows {', '.join(SUPPORTED)}."
        )
    if isinstance(layer, keras.layers.DepthwiseConv2D) and layer.depth_multiplier != 1:
        return (
            f"{label} has depth_multiplier={layer.depth_multiplier}; quantize_aware "
            "quantises depthwise convolutions of multiplier 1 (write the others as a "
            "Conv2D with groups=channels)."
        )
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        return f"{label} is channels_first; quantize_aware takes channels_last models."
    if isinstance(layer, keras.layers.LayerNormalization):
        axes = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
        rank = len(layer.input.shape) if hasattr(layer, "input") else None
        if list(axes) not in ([-1], [rank - 1] if rank else [-1]):
            return f"{label} normalises axis {layer.axis}; quantize_aware takes the last axis."
    return None
