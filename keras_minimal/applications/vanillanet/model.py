"""VanillaNet (Chen et al. 2023, arXiv 2305.12972), exact to the official PyTorch code.

Layer names follow the official modules so that the checkpoint mapping reads
straight across (see checkpoint.py):

    training graph                     deploy graph
    stem1_conv, stem1_bn, stem_deep_act
    stem2_conv, stem2_bn               stem_conv
    stem_act (SeriesActivation)        stem_act
    stages_{i}_conv1, _conv1_bn,
    stages_{i}_deep_act,
    stages_{i}_conv2, _conv2_bn        stages_{i}_conv
    stages_{i}_pool, stages_{i}_act    stages_{i}_pool, stages_{i}_act
    head_pool, head_drop               head_pool, head_drop
    cls1_fc, cls1_bn, cls_deep_act,
    predictions                        predictions
"""

import keras
from keras import layers

from keras_minimal.applications import backbone
from keras_minimal.applications.vanillanet.variants import find_variant
from keras_minimal.layers import AdaptiveMaxPooling2D, DeepTrainingActivation, SeriesActivation
from keras_minimal.layers.deep_training_activation import check_act_learn, deep_training_layers
from keras_minimal.layers.initializers import reference_trunc_normal
from keras_minimal.validation import check_int, check_ints, check_rate

BN_EPSILON = 1e-6
BN_MOMENTUM = 0.9  # PyTorch's momentum=0.1


@keras.saving.register_keras_serializable(package="keras_minimal")
class VanillaNetModel(backbone.BackboneModel):
    """A VanillaNet with the deep-training λ (official name `act_learn`) as model state."""

    @property
    def act_learn(self):
        """The current λ; the deploy graph is the λ = 1 network and reports 1.0."""
        values = {layer.act_learn_value for layer in deep_training_layers(self)}
        if not values:
            return 1.0
        if len(values) > 1:
            raise ValueError(
                f"The deep-training layers disagree on λ ({sorted(values)}); call "
                "set_act_learn(value) to set one value everywhere."
            )
        return values.pop()

    def set_act_learn(self, value):
        """Set λ in [0, 1] in every deep-training activation (leaky-ReLU slope)."""
        value = check_act_learn(value)
        found = deep_training_layers(self)
        if not found and value != 1.0:
            raise ValueError(
                "This is a deploy (fused) VanillaNet: it has no λ, it is the λ = 1 network. "
                f"Set λ on the training graph instead. Received: act_learn={value}"
            )
        for layer in found:
            layer.set_act_learn(value)


def _conv(filters, kernel_size, strides, name):
    return layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="valid",
        kernel_initializer=reference_trunc_normal(),
        bias_initializer="zeros",
        data_format="channels_last",
        name=name,
    )


def _bn(name):
    return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name)


def _dense(units, name, activation=None):
    return layers.Dense(
        units,
        activation=activation,
        kernel_initializer=reference_trunc_normal(),
        bias_initializer="zeros",
        name=name,
    )


def _pointwise(filters, name):
    # A 1×1 convolution as Dense on the channel axis: the same maths, and on CPU TensorFlow
    # runs it as a MatMul ~10% faster than Conv2D (benchmarks/pointwise_conv_throughput.py).
    return _dense(filters, name)


def _stem_geometry(ada_pool):
    """(stride, padding) of the 4×4 stem: 4/0, or 3/1 for the ada_pool model (224 → 75)."""
    return (3, 1) if ada_pool else (4, 0)


def _stage_pool(stride, ada_size, name):
    if stride == 1:
        return None
    if ada_size:
        return AdaptiveMaxPooling2D(ada_size, name=name)
    return layers.MaxPooling2D(pool_size=stride, strides=stride, padding="valid", name=name)


def feature_size(side, strides, ada_pool):
    """Spatial size after the last stage for an input side, or 0 if it vanishes on the way."""
    stem_stride, stem_padding = _stem_geometry(ada_pool)
    side = (side + 2 * stem_padding - 4) // stem_stride + 1
    if side < 1:
        return 0
    for i, stride in enumerate(strides):
        if stride == 1:
            continue
        side = ada_pool[i] if ada_pool and ada_pool[i] else side // stride
        if side < 1:
            return 0
    return side


def min_input_size(strides, ada_pool):
    side = 1
    while feature_size(side, strides, ada_pool) < 1:
        side += 1
    return side


def _check_architecture(dims, strides, ada_pool):
    if len(dims) != len(strides) + 1:
        raise ValueError(
            "VanillaNet needs one more width than strides (dims[0] is the stem, dims[i+1] "
            f"stage i's output). Received: dims={list(dims)} strides={list(strides)}"
        )
    if ada_pool is not None and len(ada_pool) != len(strides):
        raise ValueError(
            "ada_pool needs one output size per stage (0 = use MaxPool). "
            f"Received: ada_pool={list(ada_pool)} for {len(strides)} stages"
        )


def VanillaNet(
    dims,
    strides,
    act_num=3,
    ada_pool=None,
    drop_rate=0.0,
    deploy=False,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    include_preprocessing=True,
    name="vanillanet",
):
    """Build any VanillaNet; the arguments are those of the official `VanillaNet` class.

    Args:
        dims: stem width then each stage's output width.
        strides: one per stage; >1 adds a max pool (or the adaptive pool of
            `ada_pool`) after the stage's convolutions.
        act_num: n of the series activation ((2n+1)² depthwise kernel).
        ada_pool: per-stage AdaptiveMaxPool output sizes (0 = MaxPool); also
            switches the stem to stride 3, padding 1. Needs a static input size
            (default 224×224).
        drop_rate: dropout before the classifier.
        deploy: build the fused inference graph (see keras_minimal.deploy.to_deploy).
        include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, include_preprocessing, name: as in
            keras.applications. `weights` is None, "imagenet" or a path to a
            `.weights.h5` file or a reference checkpoint (.pth/.safetensors/.npz).

    Returns:
        A `VanillaNetModel`. Its deep-training λ starts at 1.0 (the trained state);
        use `set_act_learn` or `keras_minimal.training.DeepTrainingScheduler`.
    """
    dims, strides = check_ints("dims", dims), check_ints("strides", strides)
    ada_pool = check_ints("ada_pool", ada_pool, minimum=0) if ada_pool else None
    act_num = check_int("act_num", act_num, minimum=0)
    drop_rate = check_rate("drop_rate", drop_rate)
    _check_architecture(dims, strides, ada_pool)
    variant = find_variant(dims, strides, ada_pool) if act_num == 3 else None
    classes = backbone.check_applications_arguments(
        weights, include_top, pooling, classes, classifier_activation, variant
    )
    # Adaptive pooling places its bins for a static size: the ada_pool model's is 224².
    default_shape = (224, 224, 3) if ada_pool else (None, None, 3)
    input_shape = backbone.resolve_input_shape(input_shape, input_tensor, default_shape)
    backbone.check_channels(input_shape, include_preprocessing, weights)
    backbone.check_min_size(input_shape, min_input_size(strides, ada_pool), variant or name)

    x, inputs = backbone.model_input(input_tensor, input_shape)
    if include_preprocessing:
        x = backbone.imagenet_preprocessing()(x)

    stem_stride, stem_padding = _stem_geometry(ada_pool)
    if stem_padding:
        x = layers.ZeroPadding2D(stem_padding, name="stem_pad")(x)
    if deploy:
        x = _conv(dims[0], 4, stem_stride, "stem_conv")(x)
    else:
        x = _conv(dims[0], 4, stem_stride, "stem1_conv")(x)
        x = _bn("stem1_bn")(x)
        x = DeepTrainingActivation(name="stem_deep_act")(x)
        x = _pointwise(dims[0], "stem2_conv")(x)
        x = _bn("stem2_bn")(x)
    x = SeriesActivation(act_num, deploy=deploy, epsilon=BN_EPSILON, name="stem_act")(x)

    for i, stride in enumerate(strides):
        prefix = f"stages_{i}"
        if deploy:
            x = _pointwise(dims[i + 1], f"{prefix}_conv")(x)
        else:
            x = _pointwise(dims[i], f"{prefix}_conv1")(x)
            x = _bn(f"{prefix}_conv1_bn")(x)
            x = DeepTrainingActivation(name=f"{prefix}_deep_act")(x)
            x = _pointwise(dims[i + 1], f"{prefix}_conv2")(x)
            x = _bn(f"{prefix}_conv2_bn")(x)
        pool = _stage_pool(stride, ada_pool[i] if ada_pool else 0, f"{prefix}_pool")
        if pool is not None:
            x = pool(x)
        x = SeriesActivation(act_num, deploy=deploy, epsilon=BN_EPSILON, name=f"{prefix}_act")(x)

    if include_top:
        x = layers.GlobalAveragePooling2D(name="head_pool")(x)
        x = layers.Dropout(drop_rate, name="head_drop")(x)
        if not deploy:
            x = _dense(classes, "cls1_fc")(x)
            x = _bn("cls1_bn")(x)
            x = DeepTrainingActivation(name="cls_deep_act")(x)
        x = _dense(classes, "predictions", activation=classifier_activation)(x)
    else:
        x = backbone.pool_features(x, pooling)

    architecture = {
        "family": "vanillanet",
        "variant": variant,
        "config": {
            "dims": list(dims),
            "strides": list(strides),
            "act_num": act_num,
            "ada_pool": list(ada_pool) if ada_pool else None,
            "drop_rate": drop_rate,
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
    return backbone.finish_model(VanillaNetModel, inputs, x, architecture, weights, input_tensor)
