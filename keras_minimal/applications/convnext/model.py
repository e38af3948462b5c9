"""ConvNeXt (Liu et al. 2022, arXiv 2201.03545), exact to the official code and timm.

Layer names (see checkpoint.py for the official / timm state-dict names):

    stem_conv, stem_norm                         4×4 stride-4 conv + LayerNorm
    stages_{i}_downsample_norm, _downsample_conv   LayerNorm + 2×2 stride-2 conv (i ≥ 1)
    stages_{i}_block{j}_dwconv, _norm, _pwconv1, _act, _pwconv2, _layer_scale,
        _drop_path, _add                         the ConvNeXt block
    head_pool, head_norm, predictions            pool → LayerNorm → Dense

Channels-last throughout, as the official block is: its 1×1 convolutions are Linear
layers on the channel axis, here Dense layers.
"""

import numpy as np
from keras import layers

from keras_minimal.applications import backbone
from keras_minimal.applications.convnext.variants import find_variant
from keras_minimal.layers import ExactGELU, LayerScale, StochasticDepth
from keras_minimal.layers.initializers import reference_trunc_normal
from keras_minimal.validation import check_ints, check_rate

LAYER_NORM_EPSILON = 1e-6
STEM_STRIDE = 4


def _layer_norm(name):
    return layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name=name)


def _dense(units, name, stddev=0.02, activation=None):
    return layers.Dense(
        units,
        activation=activation,
        kernel_initializer=reference_trunc_normal(stddev),
        bias_initializer="zeros",
        name=name,
    )


def _conv(filters, kernel_size, name):
    """A patchifying convolution: kernel = stride, no padding (stem and downsampling)."""
    return layers.Conv2D(
        filters,
        kernel_size,
        strides=kernel_size,
        padding="valid",
        kernel_initializer=reference_trunc_normal(),
        bias_initializer="zeros",
        name=name,
    )


def _depthwise_7x7(name):
    # TFLite export computes it in row bands for XNNPACK (keras_minimal.deploy.xnnpack).
    return layers.DepthwiseConv2D(
        7,
        padding="same",  # stride 1, odd kernel: 3 on every side, as the reference
        depthwise_initializer=reference_trunc_normal(),
        bias_initializer="zeros",
        name=name,
    )


def convnext_block(x, dim, drop_path_rate, layer_scale_init_value, name):
    """dwconv 7×7 → LayerNorm → Dense 4C → GELU → Dense C → γ → drop path → + x."""
    shortcut = x
    x = _depthwise_7x7(f"{name}_dwconv")(x)
    x = _layer_norm(f"{name}_norm")(x)
    x = _dense(4 * dim, f"{name}_pwconv1")(x)
    x = ExactGELU(name=f"{name}_act")(x)
    x = _dense(dim, f"{name}_pwconv2")(x)
    if layer_scale_init_value:
        x = LayerScale(layer_scale_init_value, name=f"{name}_layer_scale")(x)
    if drop_path_rate > 0:
        x = StochasticDepth(drop_path_rate, name=f"{name}_drop_path")(x)
    return layers.Add(name=f"{name}_add")([shortcut, x])


def block_name(stage, block):
    return f"stages_{stage}_block{block}"


def drop_path_rates(depths, drop_path_rate):
    """The official linear schedule: 0 for the first block up to drop_path_rate for the last."""
    return [float(r) for r in np.linspace(0.0, drop_path_rate, sum(depths))]


def has_head_norm(config):
    """Whether a model built with `config` (its builder_config) ends in head_norm."""
    return bool(config["include_top"] or config["pooling"] or config.get("feature_norm"))


def min_input_size(num_stages):
    return STEM_STRIDE * 2 ** (num_stages - 1)


def _check_architecture(depths, dims, head_init_scale):
    if len(depths) != len(dims):
        raise ValueError(
            "ConvNeXt needs one depth and one width per stage. "
            f"Received: depths={list(depths)} dims={list(dims)}"
        )
    if head_init_scale <= 0:
        raise ValueError(
            f"head_init_scale must be positive. Received: head_init_scale={head_init_scale}"
        )


def ConvNeXt(
    depths,
    dims,
    drop_path_rate=0.0,
    layer_scale_init_value=1e-6,
    head_init_scale=1.0,
    deploy=False,
    feature_norm=False,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    include_preprocessing=True,
    name="convnext",
):
    """Build any ConvNeXt; the arguments are those of the official `ConvNeXt` class.

    Args:
        depths: blocks per stage, e.g. (3, 3, 9, 3).
        dims: width of each stage, e.g. (96, 192, 384, 768).
        drop_path_rate: stochastic depth of the last block; block k of n gets
            k/(n−1) of it (the official linear schedule). The paper's ImageNet-1k
            recipe uses T 0.1, S 0.4, B 0.5, L 0.5 (keras_minimal.training.recipes);
            the default 0 is for inference and fine-tuning.
        layer_scale_init_value: initial γ of the layer scale (0 or None: no layer scale).
        head_init_scale: multiplies the classifier's initial weights.
        deploy: build the inference graph for export (what
            `keras_minimal.deploy.to_deploy` returns): no stochastic-depth layers
            (`drop_path_rate` is ignored).
        feature_norm: with include_top=False and pooling=None, end in the head LayerNorm
            applied to the unpooled map, as keras.applications' ConvNeXt does (its
            include_top=False output; timm's forward_features has no norm). No effect with
            a top or pooling, where the head LayerNorm follows the pooling anyway.
        include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, include_preprocessing, name: as in
            keras.applications. With include_top=False, pooling="avg"/"max" pools
            then applies the head LayerNorm (the pre-logits features, as
            keras.applications and timm's forward_head(pre_logits=True) do);
            pooling=None returns the last stage's map without norm (timm's
            forward_features). `weights` is None, "imagenet" or a path to a
            `.weights.h5` file or a reference checkpoint (official or timm layout).

    Returns:
        A `BackboneModel`; `model.pyramid_outputs` maps "P2" … "P5" to the stage
        outputs (strides 4 … 32), see `keras_minimal.applications.feature_pyramid`.
    """
    depths, dims = check_ints("depths", depths), check_ints("dims", dims)
    drop_path_rate = 0.0 if deploy else check_rate("drop_path_rate", drop_path_rate)
    _check_architecture(depths, dims, head_init_scale)
    variant = find_variant(depths, dims) if layer_scale_init_value else None
    classes = backbone.check_applications_arguments(
        weights, include_top, pooling, classes, classifier_activation, variant
    )
    input_shape = backbone.resolve_input_shape(input_shape, input_tensor)
    backbone.check_channels(input_shape, include_preprocessing, weights)
    backbone.check_min_size(input_shape, min_input_size(len(depths)), variant or name)

    x, inputs = backbone.model_input(input_tensor, input_shape)
    if include_preprocessing:
        x = backbone.imagenet_preprocessing()(x)

    rates = iter(drop_path_rates(depths, drop_path_rate))
    pyramid = {}
    for i, (depth, dim) in enumerate(zip(depths, dims, strict=True)):
        if i == 0:
            x = _conv(dim, STEM_STRIDE, "stem_conv")(x)
            x = _layer_norm("stem_norm")(x)
        else:
            x = _layer_norm(f"stages_{i}_downsample_norm")(x)
            x = _conv(dim, 2, f"stages_{i}_downsample_conv")(x)
        for j in range(depth):
            x = convnext_block(x, dim, next(rates), layer_scale_init_value, block_name(i, j))
        pyramid[f"P{i + 2}"] = f"{block_name(i, depth - 1)}_add"

    if include_top:
        x = layers.GlobalAveragePooling2D(name="head_pool")(x)
        x = _layer_norm("head_norm")(x)
        x = _dense(
            classes,
            "predictions",
            stddev=0.02 * head_init_scale,
            activation=classifier_activation,
        )(x)
    elif pooling or feature_norm:
        x = backbone.pool_features(x, pooling)
        x = _layer_norm("head_norm")(x)

    architecture = {
        "family": "convnext",
        "variant": variant,
        "pyramid": pyramid,
        "config": {
            "depths": list(depths),
            "dims": list(dims),
            "drop_path_rate": drop_path_rate,
            "layer_scale_init_value": layer_scale_init_value,
            "head_init_scale": head_init_scale,
            "deploy": bool(deploy),
            "feature_norm": bool(feature_norm),
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
