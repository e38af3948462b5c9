"""PP-LCNet (Cui et al. 2021, arXiv 2109.15099), exact to PaddleClas and timm.

Layer names follow PaddleClas' modules (see checkpoint.py for timm's names):

    conv1_pad, conv1_conv, conv1_bn, conv1_act         stem 3×3, stride_list[0]
    blocks{n}_{j}_dw_pad, _dw_conv, _dw_bn, _dw_act    depthwise k×k
    blocks{n}_{j}_se_pool, _se_conv1, _se_conv2, _se_mul   squeeze-excite (blocks6)
    blocks{n}_{j}_pw_conv, _pw_bn, _pw_act             pointwise 1×1
    head_pool, last_conv, last_act, head_drop, flatten, predictions
    (last_conv, last_act and head_drop only with use_last_conv=True, as in PaddleClas)

Padding: PyTorch and Paddle pad every k×k convolution by k//2 on each side. Keras'
"same" agrees at stride 1, but at stride 2 it pads only the bottom/right on even
inputs, which shifts every window by a pixel. Strided convolutions (a stride > 1 along
either axis, as PP-OCR's [2, 1]) therefore get an explicit ZeroPadding2D(k//2) and
"valid" padding: exact for every input size.

Head dropout: PaddleClas' Dropout is mode="downscale_in_infer" (× (1 − p) at inference,
unscaled in training); ours is Keras' (× 1/(1 − p) in training, identity at inference).
The two networks are the same when the classifier's kernel is Paddle's fc.weight × (1 − p),
which is how a Paddle checkpoint is loaded (checkpoint.py): the logits are Paddle's at
inference, and a training step computes Paddle's for the same dropout mask.

The deploy graph (`deploy=True`, what `keras_minimal.deploy.to_deploy` returns) has
no BatchNorm: each one is folded into the convolution before it, which then has a bias.
"""

import math
import numbers

import keras
from keras import layers

from keras_minimal.applications import backbone
from keras_minimal.applications.channels import make_divisible
from keras_minimal.applications.pplcnet.options import (
    check_act,
    check_stride_list,
    stride_list_config,
    total_strides,
)
from keras_minimal.applications.pplcnet.sources import SOURCES, check_published_weights
from keras_minimal.applications.pplcnet.variants import (
    DEFAULT_ACT,
    DEFAULT_STRIDES,
    HEAD_WIDTH,
    NET_CONFIG,
    SE_REDUCTION,
    STEM_WIDTH,
    STRIDED_UNITS,
    VARIANTS,
    find_variant,
)
from keras_minimal.validation import check_int, check_rate

BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9  # PyTorch's momentum=0.1, Paddle's momentum=0.9
PYRAMID_STAGES = ("blocks3", "blocks4", "blocks5", "blocks6")  # candidates for P-levels


def _is_strided(strides):
    return max(strides) > 1


def _conv(filters, kernel_size, strides, use_bias, name, activation=None):
    return layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="valid" if _is_strided(strides) else "same",
        use_bias=use_bias,
        activation=activation,
        kernel_initializer="he_normal",  # PaddleClas' KaimingNormal
        name=name,
    )


def _conv_bn_act(x, conv, deploy, name, activation):
    """conv → BatchNorm → activation; the deploy graph's conv carries the folded BN."""
    kernel_size = conv.kernel_size[0]
    if _is_strided(conv.strides):
        x = layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
    x = conv(x)
    if not deploy:
        x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{name}_bn")(
            x
        )
    return layers.Activation(activation, name=f"{name}_act")(x)


def squeeze_excite(x, channels, name):
    """GAP → 1×1 conv C/4 + ReLU → 1×1 conv C + hard sigmoid (x/6 + 1/2) → × x.

    Whatever `act` the network uses, the SE keeps ReLU and the hard sigmoid (PaddleClas).
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


def depthwise_separable_block(x, kernel_size, filters, strides, use_se, deploy, name, activation):
    """PP-LCNet's DepthSepConv: depthwise k×k → BN → act → [SE] → 1×1 → BN → act."""
    depthwise = layers.DepthwiseConv2D(
        kernel_size,
        strides=strides,
        padding="valid" if _is_strided(strides) else "same",
        use_bias=deploy,
        # PaddleClas' KaimingNormal on a (C, 1, k, k) weight: fan k·k. Keras' fan_in of the
        # (k, k, C, 1) kernel would be k·k·C; its fan_out is the k·k wanted.
        depthwise_initializer=keras.initializers.VarianceScaling(2.0, "fan_out"),
        name=f"{name}_dw_conv",
    )
    x = _conv_bn_act(x, depthwise, deploy, f"{name}_dw", activation)
    if use_se:
        x = squeeze_excite(x, x.shape[-1], f"{name}_se")
    pointwise = _conv(filters, 1, (1, 1), deploy, f"{name}_pw_conv")
    return _conv_bn_act(x, pointwise, deploy, f"{name}_pw", activation)


def _check_scale(scale):
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not scale > 0:
        raise ValueError(
            "scale must be a positive number (the published ones: "
            f"{', '.join(str(v.scale) for v in VARIANTS.values())}). Received: scale={scale!r}"
        )


def _block_strides(stage, j, table_stride, unit_strides):
    """(height, width) strides of block j of `stage`: stride_list's for a stage's first
    block where stride_list sets it, the table's otherwise."""
    if j == 0 and stage in unit_strides:
        return unit_strides[stage]
    return table_stride, table_stride


def _pyramid_level(stride):
    """keras-hub's level k of a feature map at stride (2^k, 2^k), else None."""
    height, width = stride
    if height != width or height < 2 or height & (height - 1):
        return None
    return f"P{int(math.log2(height))}"


def _published_variant(scale, act, include_top, use_last_conv, class_expand):
    """The registered name when the network is a published one (its weights apply)."""
    head_as_published = not include_top or (use_last_conv and class_expand == HEAD_WIDTH)
    return find_variant(scale) if act == DEFAULT_ACT and head_as_published else None


def PPLCNet(
    scale,
    dropout_rate=0.2,
    head_bias=False,
    class_expand=HEAD_WIDTH,
    stride_list=DEFAULT_STRIDES,
    use_last_conv=True,
    act=DEFAULT_ACT,
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
        dropout_rate: dropout after the last conv (PaddleClas' dropout_prob); there is none
            without it (use_last_conv=False), as in PaddleClas. Paddle's dropout scales at
            inference, ours in training: a Paddle checkpoint's fc.weight is loaded × (1 −
            dropout_rate), so build with the dropout_prob it was trained with (PaddleClas'
            default, 0.2). To take our weights to PaddleClas, divide the `predictions`
            kernel by (1 − dropout_rate), or use Dropout(mode="upscale_in_train") there.
        head_bias: give the 1×1 last conv a bias. False is PaddleClas' layout, True timm's
            (lcnet_*), whose checkpoints need it.
        class_expand: width of the last conv after global pooling.
        stride_list: the strides of the stem conv and of the first block of blocks3 …
            blocks6, as PaddleClas takes them: 5 entries, each an int or an [height, width]
            pair. PP-OCR's text-line models use [2, [2, 1], [2, 1], [2, 1], [2, 1]].
        use_last_conv: False leaves out the last conv, its activation and the dropout:
            the classifier takes the pooled blocks6 features (PaddleClas' image-orientation
            models).
        act: "hardswish" (PP-LCNet's), "relu" or "relu6": the activation of every conv
            unit and of the last conv. The squeeze-excite keeps its ReLU and hard sigmoid.
        deploy: build the inference graph with every BatchNorm folded into its conv
            (what `keras_minimal.deploy.to_deploy` returns).
        include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, include_preprocessing, name: as in
            keras.applications. With include_top=False the output is blocks6's map
            (or its global pool): the last conv belongs to the top. `weights` is None,
            "imagenet" (PaddleClas' checkpoints, every scale), "imagenet_ssld"
            (PaddleClas' SSLD-distilled ones: x0.5, x1.0, x2.5), "imagenet_timm" (timm's
            ra2_in1k for x0.5, x0.75, x1.0, with head_bias=True), or the path of a
            `.weights.h5` file or a checkpoint (PaddleClas .pdparams or timm).

    Returns:
        A `BackboneModel`; `model.pyramid_outputs` maps "P2" … "P5" to the outputs of
        blocks3 … blocks6 (strides 4 … 32; with another stride_list, the stages whose
        output stride is square, 2^k, at level "Pk"), see
        `keras_minimal.applications.feature_pyramid`.
    """
    _check_scale(scale)
    strides = check_stride_list(stride_list)
    activation = check_act(act)
    class_expand = check_int("class_expand", class_expand)
    use_last_conv = bool(use_last_conv)
    check_published_weights(
        weights, scale, include_top, head_bias, act, use_last_conv, class_expand
    )
    dropout_rate = check_rate("dropout_rate", dropout_rate)
    variant = _published_variant(scale, act, include_top, use_last_conv, class_expand)
    published = tuple(SOURCES)
    classes = backbone.check_applications_arguments(
        weights, include_top, pooling, classes, classifier_activation, variant, published
    )
    input_shape = backbone.resolve_input_shape(input_shape, input_tensor)
    backbone.check_channels(input_shape, include_preprocessing, weights, published)
    backbone.check_min_size(input_shape, total_strides(strides), variant or name)

    x, inputs = backbone.model_input(input_tensor, input_shape)
    if include_preprocessing:
        x = backbone.imagenet_preprocessing()(x)

    unit_strides = dict(zip(STRIDED_UNITS, strides, strict=True))
    stem = _conv(make_divisible(STEM_WIDTH * scale), 3, unit_strides["conv1"], deploy, "conv1_conv")
    x = _conv_bn_act(x, stem, deploy, "conv1", activation)
    stride = unit_strides["conv1"]  # of the features so far, (height, width)
    pyramid = {}
    for stage, blocks in NET_CONFIG.items():
        for j, (kernel_size, _, filters, table_stride, use_se) in enumerate(blocks):
            block_strides = _block_strides(stage, j, table_stride, unit_strides)
            stride = (stride[0] * block_strides[0], stride[1] * block_strides[1])
            x = depthwise_separable_block(
                x,
                kernel_size,
                make_divisible(filters * scale),
                block_strides,
                use_se,
                deploy,
                f"{stage}_{j}",
                activation,
            )
        level = _pyramid_level(stride) if stage in PYRAMID_STAGES else None
        if level:  # a later stage at the same stride takes the level
            pyramid[level] = f"{stage}_{len(blocks) - 1}_pw_act"

    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True, name="head_pool")(x)
        if use_last_conv:
            x = layers.Conv2D(
                class_expand,
                1,
                use_bias=bool(head_bias),
                kernel_initializer="he_normal",
                name="last_conv",
            )(x)
            x = layers.Activation(activation, name="last_act")(x)
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
            "stride_list": stride_list_config(stride_list),
            "use_last_conv": use_last_conv,
            "act": act,
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
        backbone.BackboneModel, inputs, x, architecture, weights, input_tensor, published
    )
