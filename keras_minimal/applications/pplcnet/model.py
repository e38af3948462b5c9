"""PP-LCNet (Cui et al. 2021, arXiv 2109.15099), exact to PaddleClas and timm.

Layer names follow PaddleClas' modules (see checkpoint.py for timm's names):

    conv1_pad, conv1_conv, conv1_bn, conv1_act         stem 3×3 stride 2
    blocks{n}_{j}_dw_pad, _dw_conv, _dw_bn, _dw_act    depthwise k×k
    blocks{n}_{j}_se_pool, _se_conv1, _se_conv2, _se_mul   squeeze-excite (blocks6)
    blocks{n}_{j}_pw_conv, _pw_bn, _pw_act             pointwise 1×1
    head_pool, last_conv, last_act, head_drop, flatten, predictions

Padding: PyTorch and Paddle pad every k×k convolution by k//2 on each side. Keras'
"same" agrees at stride 1, but at stride 2 it pads only the bottom/right on even
inputs, which shifts every window by a pixel. Stride-2 convolutions therefore get
an explicit ZeroPadding2D(k//2) and "valid" padding: exact for every input size.

The deploy graph (`deploy=True`, what `keras_minimal.deploy.to_deploy` returns) has
no BatchNorm: each one is folded into the convolution before it, which then has a bias.
"""

import numbers

import keras
from keras import layers

from keras_minimal.applications import backbone
from keras_minimal.applications.channels import make_divisible
from keras_minimal.applications.pplcnet.variants import (
    HEAD_WIDTH,
    NET_CONFIG,
    SE_REDUCTION,
    STEM_WIDTH,
    VARIANTS,
    find_variant,
)
from keras_minimal.validation import check_rate

BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9  # PyTorch's momentum=0.1, Paddle's momentum=0.9
TOTAL_STRIDE = 32
# The four stages whose outputs feed detection necks, by pyramid level (stride 2^level).
PYRAMID_STAGES = {"P2": "blocks3", "P3": "blocks4", "P4": "blocks5", "P5": "blocks6"}


def _conv(filters, kernel_size, strides, use_bias, name, activation=None):
    return layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="valid" if strides > 1 else "same",
        use_bias=use_bias,
        activation=activation,
        kernel_initializer="he_normal",  # PaddleClas' KaimingNormal
        name=name,
    )


def _conv_bn_act(x, conv, deploy, name, activation="hard_silu"):
    """conv → BatchNorm → activation; the deploy graph's conv carries the folded BN."""
    kernel_size = conv.kernel_size[0]
    if conv.strides[0] > 1:
        x = layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
    x = conv(x)
    if not deploy:
        x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{name}_bn")(
            x
        )
    return layers.Activation(activation, name=f"{name}_act")(x)


def squeeze_excite(x, channels, name):
    """GAP → 1×1 conv C/4 + ReLU → 1×1 conv C + hard sigmoid (x/6 + 1/2) → × x.

    The 1×1 convolutions act on the pooled vector, so they are Dense layers here: the
    same maths, and it keeps tf2onnx's transpose optimizer working (a 1×1 Conv followed
    by the hard sigmoid's scalar add on a pooled map makes it give up, leaving a
    transpose around every convolution of the exported graph).
    """
    scale = layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)
    scale = layers.Dense(channels // SE_REDUCTION, activation="relu", name=f"{name}_conv1")(scale)
    scale = layers.Dense(channels, activation="hard_sigmoid", name=f"{name}_conv2")(scale)
    scale = layers.Reshape((1, 1, channels), name=f"{name}_reshape")(scale)
    return layers.Multiply(name=f"{name}_mul")([x, scale])


def depthwise_separable_block(x, kernel_size, filters, stride, use_se, deploy, name):
    """PP-LCNet's DepthSepConv: depthwise k×k → BN → h-swish → [SE] → 1×1 → BN → h-swish."""
    depthwise = layers.DepthwiseConv2D(
        kernel_size,
        strides=stride,
        padding="valid" if stride > 1 else "same",
        use_bias=deploy,
        # PaddleClas' KaimingNormal on a (C, 1, k, k) weight: fan k·k. Keras' fan_in of the
        # (k, k, C, 1) kernel would be k·k·C; its fan_out is the k·k wanted.
        depthwise_initializer=keras.initializers.VarianceScaling(2.0, "fan_out"),
        name=f"{name}_dw_conv",
    )
    x = _conv_bn_act(x, depthwise, deploy, f"{name}_dw")
    if use_se:
        x = squeeze_excite(x, x.shape[-1], f"{name}_se")
    return _conv_bn_act(x, _conv(filters, 1, 1, deploy, f"{name}_pw_conv"), deploy, f"{name}_pw")


def _check_scale(scale, weights, include_top, head_bias):
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not scale > 0:
        raise ValueError(
            "scale must be a positive number (the published ones: "
            f"{', '.join(str(v.scale) for v in VARIANTS.values())}). Received: scale={scale!r}"
        )
    if weights != "imagenet":
        return
    published = {v.scale: n for n, v in VARIANTS.items() if v.imagenet_url}
    if scale not in published:
        raise ValueError(
            f'weights="imagenet" exist for the scales {sorted(published)} (timm\'s '
            "lcnet_050/075/100.ra2_in1k); PaddleClas' weights for the other scales are "
            ".pdparams files, which keras_minimal does not read. Received: "
            f"scale={scale}"
        )
    if include_top and not head_bias:
        raise ValueError(
            'weights="imagenet" are timm\'s lcnet checkpoints, whose head 1×1 conv has a '
            "bias: build the model with head_bias=True. Received: head_bias=False"
        )


def PPLCNet(
    scale,
    dropout_rate=0.2,
    head_bias=False,
    class_expand=HEAD_WIDTH,
    deploy=False,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    include_preprocessing=True,
    name="pplcnet",
):
    """Build a PP-LCNet of any width; the arguments are those of PaddleClas' `PPLCNet`.

    Args:
        scale: width multiplier; every width is scale × the table's, rounded by
            `make_divisible(·, 8)`. Published: 0.25, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5.
        dropout_rate: dropout before the classifier (PaddleClas' dropout_prob).
        head_bias: give the 1×1 head conv to `class_expand` a bias. False is
            PaddleClas' layout, True timm's (lcnet_*), whose checkpoints need it.
        class_expand: width of the head conv after global pooling.
        deploy: build the inference graph with every BatchNorm folded into its conv
            (what `keras_minimal.deploy.to_deploy` returns).
        include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, include_preprocessing, name: as in
            keras.applications. With include_top=False the output is blocks6's map
            (or its global pool): the head conv belongs to the top. `weights` is
            None, "imagenet" (timm's ra2_in1k for x0.5, x0.75, x1.0, with
            head_bias=True) or a path to a `.weights.h5` file or a timm checkpoint.

    Returns:
        A `BackboneModel`; `model.pyramid_outputs` maps "P2" … "P5" to the outputs of
        blocks3 … blocks6 (strides 4 … 32), see
        `keras_minimal.applications.feature_pyramid`.
    """
    _check_scale(scale, weights, include_top, head_bias)
    dropout_rate = check_rate("dropout_rate", dropout_rate)
    variant = find_variant(scale) if class_expand == HEAD_WIDTH else None
    classes = backbone.check_applications_arguments(
        weights, include_top, pooling, classes, classifier_activation, variant
    )
    input_shape = backbone.resolve_input_shape(input_shape, input_tensor)
    backbone.check_channels(input_shape, include_preprocessing, weights)
    backbone.check_min_size(input_shape, TOTAL_STRIDE, variant or name)

    x, inputs = backbone.model_input(input_tensor, input_shape)
    if include_preprocessing:
        x = backbone.imagenet_preprocessing()(x)

    stem = _conv(make_divisible(STEM_WIDTH * scale), 3, 2, deploy, "conv1_conv")
    x = _conv_bn_act(x, stem, deploy, "conv1")
    pyramid = {}
    for stage, blocks in NET_CONFIG.items():
        for j, (kernel_size, _, filters, stride, use_se) in enumerate(blocks):
            x = depthwise_separable_block(
                x,
                kernel_size,
                make_divisible(filters * scale),
                stride,
                use_se,
                deploy,
                f"{stage}_{j}",
            )
        for level, name_ in PYRAMID_STAGES.items():
            if name_ == stage:
                pyramid[level] = f"{stage}_{len(blocks) - 1}_pw_act"

    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True, name="head_pool")(x)
        x = layers.Conv2D(
            class_expand, 1, use_bias=head_bias, kernel_initializer="he_normal", name="last_conv"
        )(x)
        x = layers.Activation("hard_silu", name="last_act")(x)
        x = layers.Dropout(dropout_rate, name="head_drop")(x)
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = backbone.pool_features(x, pooling)

    architecture = {
        "family": "pplcnet",
        "variant": variant,
        "pyramid": pyramid,
        "config": {
            "scale": scale,
            "dropout_rate": dropout_rate,
            "head_bias": bool(head_bias),
            "class_expand": class_expand,
            "deploy": bool(deploy),
            **backbone.applications_config(
                include_top,
                input_shape,
                pooling,
                classes,
                classifier_activation,
                include_preprocessing,
                name,
            ),
        },
    }
    return backbone.finish_model(
        backbone.BackboneModel, inputs, x, architecture, weights, input_tensor
    )
